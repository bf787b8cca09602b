// Lua: reservations as MessagePack records (as budgets: see ledger-rows.ts) and the one index of what
// falls due: a sorted set scored by when the sweep must next look at a reservation (an active one at
// its expiry + grace, to expire it; an ended one at the end of its retention, to forget it).

export const RESERVATIONS = String.raw`
local function rsv_key(id) return P .. 'r:' .. id end

-- NEXT_DUE[P] (prelude.ts): no member of the prefix's due set scores before it (a lower bound, possibly
-- stale-early). A function library keeps its locals between calls, and every write to a due set goes
-- through due_at, so lazy expiry skips the set while nothing can be due (one table lookup instead of a
-- Redis read on every operation; the memory ledger's nextDeadline). A fresh library (a restart, a
-- promoted replica, eval mode) starts with none known and reads the set.
local NEXT_DUE_COUNT = 0

-- In a group, due index writes after its first (which meets any wrong type of the key, failing its own
-- operation as alone) are gathered and written with one ZADD (pairs in order: the last score of an id
-- wins, as separate ZADDs) before anything reads or removes from the index (due_read) and at the
-- group's end (flush_due): one command instead of one per operation.
local function flush_due(group)
  local count = group.due_count
  if count == 0 then return end
  group.due_count = 0
  redis.call('ZADD', group.due_key, unpack(group.due_args, 1, count))
end

local function due_read()
  if GROUP then flush_due(GROUP) end
end

local function due_at(id, score)
  local key = P .. 'due'
  if GROUP == nil then
    redis.call('ZADD', key, S(score), id)
  elseif GROUP.due_key ~= key then
    flush_due(GROUP)
    redis.call('ZADD', key, S(score), id)
    GROUP.due_key = key
  else
    local count, args = GROUP.due_count, GROUP.due_args
    args[count + 1] = time_text(score, GROUP.texts)
    args[count + 2] = id
    GROUP.due_count = count + 2
    -- Bounded commands (unpack's stack): a group's lazy expiries may write thousands.
    if count + 2 >= 1000 then flush_due(GROUP) end
  end
  local next_due = NEXT_DUE[P]
  if next_due ~= nil and score < next_due then NEXT_DUE[P] = score end
end

local function learn_next_due()
  if CALLS < 2 then return end
  due_read()
  local first = redis.call('ZRANGE', P .. 'due', 0, 0, 'WITHSCORES')
  if NEXT_DUE[P] == nil then
    -- Bounded: many prefixes (tests, a cluster's tags) only cost a re-read after a reset.
    if NEXT_DUE_COUNT >= 10000 then
      NEXT_DUE_BY_DB, NEXT_DUE, NEXT_DUE_COUNT = {}, {}, 0
      NEXT_DUE_BY_DB[DB] = NEXT_DUE
    end
    NEXT_DUE_COUNT = NEXT_DUE_COUNT + 1
  end
  NEXT_DUE[P] = first[2] and tonumber(first[2]) or math.huge
end

-- The stored form of a reservation: these fields in this order (nil where unset). Amounts and times
-- are numbers; the rest strings. ck/cp/cr and rk/rp/rr: the commit's and the release's idempotency
-- key, payload fingerprint and stored outcome.
local function encode_rsv(rsv)
  return cmsgpack.pack(rsv.tenant, rsv.status, rsv.unit, rsv.estimate, rsv.rows, rsv.createdAtMs,
    rsv.expiresAtMs, rsv.graceMs, rsv.policy, rsv.extensions, rsv.maxExtensions, rsv.record, rsv.endedAtMs,
    rsv.finalizedAtMs, rsv.committed, rsv.cmeta, rsv.ck, rsv.cp, rsv.cr, rsv.rk, rsv.rp, rsv.rr)
end

local function load_rsv(id)
  local raw = redis.call('GET', rsv_key(id))
  if not raw then return nil end
  local tenant, status, unit, estimate, rows, createdAtMs, expiresAtMs, graceMs, policy, extensions,
    maxExtensions, record, endedAtMs, finalizedAtMs, committed, cmeta, ck, cp, cr, rk, rp, rr = cmsgpack.unpack(raw)
  return { id = id, tenant = tenant, status = status, unit = unit, estimate = estimate, rows = rows,
    createdAtMs = createdAtMs, expiresAtMs = expiresAtMs, graceMs = graceMs, policy = policy,
    extensions = extensions, maxExtensions = maxExtensions, record = record, endedAtMs = endedAtMs,
    finalizedAtMs = finalizedAtMs, committed = committed, cmeta = cmeta, ck = ck, cp = cp, cr = cr, rk = rk,
    rp = rp, rr = rr }
end

local function save_rsv(rsv)
  redis.call('SET', rsv_key(rsv.id), encode_rsv(rsv))
end

-- The budget rows a reservation holds on (one MGET; rows never disappear, ledgers are only closed).
local function rsv_rows(rsv)
  -- Presized (see load_rows).
  local rows = { nil, nil, nil, nil }
  -- A group's reservations mostly hold on the same rows: their ids are split once per group.
  local ids = GROUP and GROUP.row_ids[rsv.rows]
  if not ids then
    ids = split(rsv.rows, '\n')
    if GROUP then GROUP.row_ids[rsv.rows] = ids end
  end
  local loaded = load_rows(ids)
  for r = 1, #loaded do
    if loaded[r] then rows[#rows + 1] = loaded[r] end
  end
  return rows
end

-- Per tenant: how many reservations it holds (live + retained) and its ended ones by end time, so a
-- tenant's bound only ever forgets its own (one shared index let one tenant flush everyone's replays).
local function held_key(tenant) return P .. 'held:' .. tenant end
local function ended_key(tenant) return P .. 'ended:t:' .. tenant end

-- Forgets an ended reservation (rsv: its loaded record, or nil when already gone).
local function forget(id, rsv)
  redis.call('DEL', rsv_key(id), P .. 'x:' .. id)
  due_read()
  redis.call('ZREM', P .. 'due', id)
  if rsv ~= nil then
    redis.call('ZREM', ended_key(rsv.tenant), id)
    if redis.call('DECR', held_key(rsv.tenant)) <= 0 then redis.call('DEL', held_key(rsv.tenant)) end
  end
end

-- Tenants (per database and key prefix) whose last reserve found them at their bound: a busy tenant
-- stays there, one ended reservation forgotten for each new one, so its next reserve reads its count
-- instead of incrementing it, and writes no count at all when one goes for one. A hint only: a stale
-- one costs a read. Bounded as NEXT_DUE is.
local AT_BOUND, AT_BOUND_COUNT = {}, 0

-- Forgets up to count of the tenant's ended reservations past the replay window, oldest first; answers
-- how many it listed and how many records were still there to count off (its own, known: no read).
local function forget_oldest_ended(tenant, count)
  local ended = ended_key(tenant)
  local old = redis.call('ZRANGEBYSCORE', ended, '-inf', S(NOW - WINDOW), 'LIMIT', 0, count)
  local gone = 0
  if #old > 0 then due_read() end
  for _, id in ipairs(old) do
    gone = gone + math.min(1, redis.call('DEL', rsv_key(id), P .. 'x:' .. id))
    redis.call('ZREM', P .. 'due', id)
    redis.call('ZREM', ended, id)
  end
  return #old, gone
end

-- Counts one more reservation against the tenant's bound: 0 when it fits, forgetting the tenant's own
-- oldest ended ones past the replay window as needed; else the count stays and the answer is how long
-- until one passes the window. The count ends as one INCR per fit and one DECR per forgotten record
-- would leave it (a count at 0 is deleted), written once.
local function take_room(tenant, limit)
  local key = held_key(tenant)
  local hint = DB .. ' ' .. key
  local held, counted
  if AT_BOUND[hint] then
    held = tonumber(redis.call('GET', key) or '0') + 1
    counted = false
  else
    held = redis.call('INCR', key)
    counted = true
  end
  local listed, gone = 0, 0
  if held > limit then
    if not AT_BOUND[hint] then
      if AT_BOUND_COUNT >= 10000 then AT_BOUND, AT_BOUND_COUNT = {}, 0 end
      AT_BOUND[hint] = true
      AT_BOUND_COUNT = AT_BOUND_COUNT + 1
    end
    listed, gone = forget_oldest_ended(tenant, held - limit)
  elseif AT_BOUND[hint] then
    AT_BOUND[hint] = nil
  end
  local fits = held - listed <= limit
  -- The change still to write: the forgotten ones off, and this one on (counted: off again unless it fits).
  local change = -gone
  if fits and not counted then change = change + 1 end
  if not fits and counted then change = change - 1 end
  if change ~= 0 then
    if redis.call('INCRBY', key, change) <= 0 then redis.call('DEL', key) end
  end
  if fits then return 0 end
  local oldest = redis.call('ZRANGE', ended_key(tenant), 0, 0, 'WITHSCORES')
  if #oldest == 0 then return 1000 end
  return math.max(1, tonumber(oldest[2]) + WINDOW - NOW)
end

-- Ends a reservation: status and the given outcome fields, written with its rows' new counters (one
-- MSET); due again at the end of its retention (then forgotten), and on its tenant's ended index. False,
-- writing nothing, if a counter would leave the exact-integer range.
local function end_rsv(rsv, status, outcome, rows)
  rsv.status = status
  rsv.endedAtMs = NOW
  if status ~= 'EXPIRED' then rsv.finalizedAtMs = NOW end
  for field, value in pairs(outcome) do rsv[field] = value end
  if not persist(rows, rsv_key(rsv.id), encode_rsv(rsv)) then return false end
  -- Forgotten once now >= ended + retention, i.e. once its score (one ms less) is before now.
  due_at(rsv.id, NOW + RETENTION - 1)
  redis.call('ZADD', ended_key(rsv.tenant), now_text(), rsv.id)
  return true
end

-- Expires one reservation: its hold goes back on every row it was placed on. No window roll is
-- needed: returning a hold commutes with a roll (remaining is recomputed from the same counters).
local function expire_one(rsv)
  local id = rsv.id
  local rows = rsv_rows(rsv)
  for _, row in ipairs(rows) do
    row.reserved = row.reserved - rsv.estimate
    row.remaining = row.remaining + rsv.estimate
  end
  end_rsv(rsv, 'EXPIRED', {}, rows)
  if EVENTS then
    EXPIRED = EXPIRED or {}
    EXPIRED[#EXPIRED + 1] = { id = id, tenant = rsv.tenant, unit = rsv.unit, estimate = S(rsv.estimate),
      createdAtMs = S(rsv.createdAtMs), expiresAtMs = S(rsv.expiresAtMs), extensions = S(rsv.extensions),
      record = rsv.record, bal = rows_out(rows) }
  end
end

-- Looks at up to limit reservations due before now: expires active ones, forgets ended ones past their
-- retention. Returns how many it expired and how many it forgot (the sweep goes on while a batch was
-- full). sweep: read the set even when nothing is known to be due (the periodic sweep refreshes the
-- lower bound, so a writer that bypassed it, e.g. another library version, is caught within one period).
local function expire_due(limit, sweep)
  local next_due = NEXT_DUE[P]
  if not sweep and next_due ~= nil and NOW <= next_due then return 0, 0 end
  due_read()
  local due = redis.call('ZRANGEBYSCORE', P .. 'due', '-inf', '(' .. S(NOW), 'LIMIT', 0, limit)
  local expired, forgotten = 0, 0
  for _, id in ipairs(due) do
    local rsv = load_rsv(id)
    if rsv ~= nil and rsv.status == 'ACTIVE' then
      expire_one(rsv)
      expired = expired + 1
    else
      forget(id, rsv)
      forgotten = forgotten + 1
    end
  end
  if #due < limit then learn_next_due() else NEXT_DUE[P] = nil end
  return expired, forgotten
end

local function tenant_closed(tenant)
  if tenant == nil or tenant == '' then return false end
  -- In a group: the settings its operations share (one read per tenant); alone: the one field.
  if GROUP then return tenant_settings(tenant).status == 'CLOSED' end
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
