// Lua: idempotency records, one string per key with a TTL: expiry, payload and stored outcome.

export const IDEMPOTENCY = String.raw`
-- One string per record: expiry ms, payload and outcome joined by NUL (JSON never holds a raw NUL).
local function idem_get(namespace, payload)
  local key = P .. 'i:' .. namespace
  local record = redis.call('GET', key)
  if not record then return nil end
  local first = string.find(record, '\0', 1, true)
  local second = string.find(record, '\0', first + 1, true)
  if tonumber(string.sub(record, 1, first - 1)) <= NOW then
    redis.call('DEL', key)
    return nil
  end
  if string.sub(record, first + 1, second - 1) ~= payload then return nil, { e = 'IDEMPOTENCY_MISMATCH' } end
  return string.sub(record, second + 1)
end

-- With Redis TIME as now, the deadline goes as PXAT, the form Redis propagates a SET's expiry in (a PX
-- is rewritten into it for the AOF and replicas); a clock of the caller's keeps PX (relative to Redis's).
local function idem_put(namespace, payload, outcome, min_ms)
  local keep = math.max(IDEM_MS, min_ms or 0)
  local deadline = time_text(NOW + keep, GROUP and GROUP.texts)
  if ARGS[2] == '' then
    redis.call('SET', P .. 'i:' .. namespace, deadline .. '\0' .. payload .. '\0' .. outcome, 'PXAT', deadline)
  else
    redis.call('SET', P .. 'i:' .. namespace, deadline .. '\0' .. payload .. '\0' .. outcome, 'PX', S(keep))
  end
end
`;
