// Lua: reservations as hashes, the expiry index (a sorted set by expiry + grace) and retention.

export const RESERVATIONS = String.raw`
local function rsv_key(id) return P .. 'r:' .. id end

-- The fields settle calls read (not the request record, which only reads need).
local RSV_FIELDS = { 'tenant', 'status', 'unit', 'estimate', 'rows', 'expiresAtMs', 'graceMs', 'policy',
  'extensions', 'maxExtensions', 'ck', 'cp', 'cr', 'rk', 'rp', 'rr' }

local function load_rsv(id)
  local values = redis.call('HMGET', rsv_key(id), unpack(RSV_FIELDS))
  if not values[2] then return nil end
  local rsv = { id = id }
  for i, field in ipairs(RSV_FIELDS) do
    if values[i] then rsv[field] = values[i] end
  end
  rsv.estimate = tonumber(rsv.estimate)
  rsv.expiresAtMs = tonumber(rsv.expiresAtMs)
  rsv.graceMs = tonumber(rsv.graceMs)
  return rsv
end

local function rsv_rows(rsv)
  local rows = {}
  for _, id in ipairs(split(rsv.rows, '\n')) do rows[#rows + 1] = load_row(id) end
  return rows
end

local function forget(id)
  redis.call('DEL', rsv_key(id), P .. 'x:' .. id)
  redis.call('ZREM', P .. 'ended', id)
end

-- Forgets ended reservations past their retention, then the oldest beyond the cap.
local function prune_ended()
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'ended', '-inf', S(NOW - RETENTION), 'LIMIT', 0, 100)) do
    forget(id)
  end
  local extra = redis.call('ZCARD', P .. 'ended') - MAX_RETAINED
  if extra > 0 then
    for _, id in ipairs(redis.call('ZRANGE', P .. 'ended', 0, extra - 1)) do forget(id) end
  end
end

-- Ends a reservation: status (plus any outcome fields given), off the expiry index, onto the
-- retention index (pruned by the sweep).
local function end_rsv(id, status, extra)
  local fields = { rsv_key(id), 'status', status, 'endedAtMs', S(NOW) }
  if status ~= 'EXPIRED' then
    fields[#fields + 1] = 'finalizedAtMs'
    fields[#fields + 1] = S(NOW)
  end
  for _, value in ipairs(extra or {}) do fields[#fields + 1] = value end
  redis.call('HSET', unpack(fields))
  redis.call('ZREM', P .. 'expiry', id)
  redis.call('ZADD', P .. 'ended', S(NOW), id)
end

-- Expires one reservation: its hold goes back on every row it was placed on. No window roll is
-- needed: returning a hold commutes with a roll (remaining is recomputed from the same counters).
local function expire_one(id)
  local values = redis.call('HMGET', rsv_key(id), 'status', 'estimate', 'rows')
  if values[1] ~= 'ACTIVE' then
    redis.call('ZREM', P .. 'expiry', id)
    return 0
  end
  local estimate = values[2]
  for _, row in ipairs(split(values[3], '\n')) do
    redis.call('HINCRBY', row_key(row), 'reserved', S(0 - tonumber(estimate)))
    redis.call('HINCRBY', row_key(row), 'remaining', estimate)
  end
  end_rsv(id, 'EXPIRED')
  return 1
end

-- Expires up to limit reservations whose expiry + grace is before now (the sorted set's score).
local function expire_due(limit)
  local count = 0
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'expiry', '-inf', '(' .. S(NOW), 'LIMIT', 0, limit)) do
    count = count + expire_one(id)
  end
  return count
end

local function tenant_closed(tenant)
  if tenant == nil or tenant == '' then return false end
  return redis.call('HGET', P .. 'tenant:' .. tenant, 'status') == 'CLOSED'
end

-- Looks up a reservation for a settle call: 404, 403 (before any replay), then the open checks.
local function rsv_for(id, caller)
  local rsv = load_rsv(id)
  if rsv == nil then return nil, { e = 'NOT_FOUND_RESERVATION', id = id } end
  if caller ~= '' and rsv.tenant ~= caller then return nil, { e = 'FORBIDDEN_RESERVATION', id = id } end
  return rsv
end

local function guard_open(rsv)
  if tenant_closed(rsv.tenant) then return { e = 'TENANT_CLOSED', tenant = rsv.tenant } end
  if rsv.status == 'EXPIRED' then return { e = 'RESERVATION_EXPIRED', id = rsv.id, exp = S(rsv.expiresAtMs) } end
  if rsv.status ~= 'ACTIVE' then return { e = 'RESERVATION_FINALIZED', id = rsv.id, status = rsv.status } end
  return nil
end

-- ---- idempotency records -------------------------------------------------------------------------
`;
