// The Lua shared by every script: argument header, clock, exact-integer formatting, ledger rows,
// window rolls (bounds supplied by JavaScript), expiry, retention and idempotency records.
//
// Argument header of every call (no KEYS: every key lives under the prefix, see README):
//   ARGV[1] key prefix · ARGV[2] now in ms ('' = Redis TIME) · ARGV[3] window-bound hints (JSON) ·
//   ARGV[4] reservation retention ms · ARGV[5] most retained reservations · ARGV[6] idempotency ms.
// Operation arguments follow; A(i) reads ARGV[6 + i].
//
// Amounts: Lua numbers are doubles, exact for integers up to 2^53 − 1. Counters are stored as decimal
// strings written with %.0f (never tostring, which rounds to 14 digits), and replies carry them as
// strings inside JSON, never as JSON numbers (cjson encodes with 14 significant digits).

export const LIBRARY = String.raw`
local MAXSAFE = 9007199254740991
-- Per-call state, set by begin(): the library is loaded once (as a Redis function library) and its
-- functions are reused, so nothing here may read ARGV at load time.
local ARGS, P, RETENTION, MAX_RETAINED, IDEM_MS, NOW
local HINTS, NEEDS, NEED_COUNT, TEMPLATES

local function A(i) return ARGS[6 + i] end
local function S(n) return string.format('%.0f', n) end
local function opt(value) if value == nil or value == '' then return nil end return value end

local function begin(args)
  ARGS = args
  P = args[1]
  RETENTION = tonumber(args[4])
  MAX_RETAINED = tonumber(args[5])
  IDEM_MS = tonumber(args[6])
  if args[2] ~= '' then
    NOW = tonumber(args[2])
  else
    local t = redis.call('TIME')
    NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  -- Window bounds come from JavaScript (IANA zones need Intl). A missing or stale hint is recorded
  -- and the script answers {need = [...]} before writing anything; the caller retries with bounds.
  HINTS = {}
  if args[3] ~= '' then
    for _, hint in ipairs(cjson.decode(args[3])) do HINTS[hint[1]] = { tonumber(hint[2]), tonumber(hint[3]) } end
  end
  NEEDS, NEED_COUNT = {}, 0
  TEMPLATES = nil
end

local function pad(n)
  local s = S(n)
  if #s < 10 then s = string.rep('0', 10 - #s) .. s end
  return s
end

local function next_id(kind)
  return kind .. pad(redis.call('INCR', P .. 'seq'))
end

local function bounds(window)
  local hint = HINTS[window]
  if hint ~= nil and hint[1] <= NOW and NOW < hint[2] then return hint[1], hint[2] end
  if not NEEDS[window] then NEEDS[window] = true; NEED_COUNT = NEED_COUNT + 1 end
  return nil
end
local function need_reply()
  local list = {}
  for window in pairs(NEEDS) do list[#list + 1] = window end
  return cjson.encode({ need = list, now = S(NOW) })
end

local function reply(outcome)
  outcome.now = S(NOW)
  return cjson.encode(outcome)
end

-- ---- ledger rows ---------------------------------------------------------------------------------
local COUNTERS = { 'allocated', 'remaining', 'reserved', 'spent', 'debt', 'overdraftLimit' }
local NUMERIC = { allocated = true, remaining = true, reserved = true, spent = true, debt = true,
  overdraftLimit = true, periodStartMs = true, periodEndMs = true }

local function row_key(id) return P .. 'l:' .. id end

local function load_row(id)
  local flat = redis.call('HGETALL', row_key(id))
  if #flat == 0 then return nil end
  local row = { id = id, loaded = {} }
  for i = 1, #flat, 2 do
    local field, value = flat[i], flat[i + 1]
    row.loaded[field] = value
    if NUMERIC[field] then row[field] = tonumber(value) else row[field] = value end
  end
  return row
end

-- The over-limit flag after funding, a limit update or a window roll: debt beyond a positive limit.
-- With a zero limit, outstanding debt is DEBT_OUTSTANDING instead (as core's overLimitAfterReconcile).
local function over_after_reconcile(row)
  if row.overdraftLimit > 0 and row.debt > row.overdraftLimit then return '1' end
  return '0'
end

-- Starts a new period when due: spent -> 0, holds and debt carry over (RESET_SPENT semantics).
local function roll(row)
  if row.window == nil then return end
  if row.periodEndMs ~= nil and NOW < row.periodEndMs then return end
  local startMs, endMs = bounds(row.window)
  if startMs == nil then return end
  local fresh = row.periodEndMs == nil
  row.periodStartMs = startMs
  row.periodEndMs = endMs
  if not fresh then
    row.spent = 0
    row.remaining = row.allocated - row.reserved - row.debt
    row.over = over_after_reconcile(row)
  end
  row.dirty = true
end

local function in_bounds(row)
  for _, field in ipairs(COUNTERS) do
    local value = row[field]
    if value > MAXSAFE or value < -MAXSAFE then return false end
  end
  return true
end

-- Writes rows back (only the fields that changed since load); refuses, writing nothing, if any
-- counter left the exact-integer range.
local function persist(rows)
  for _, row in ipairs(rows) do
    if not in_bounds(row) then return false end
  end
  for _, row in ipairs(rows) do
    local loaded = row.loaded or {}
    local args = { row_key(row.id) }
    local function put(field, value)
      if value ~= nil and loaded[field] ~= value then
        args[#args + 1] = field
        args[#args + 1] = value
      end
    end
    for _, field in ipairs(COUNTERS) do
      -- Compare as numbers first: formatting every counter of every row costs more than the write.
      local value = row[field]
      if row.new or tonumber(loaded[field]) ~= value then put(field, S(value)) end
    end
    put('over', row.over)
    put('status', row.status)
    if row.periodEndMs ~= nil then
      put('periodStartMs', S(row.periodStartMs))
      put('periodEndMs', S(row.periodEndMs))
    end
    if row.new then
      for _, field in ipairs({ 'ledgerId', 'scope', 'unit', 'caps', 'hasCaps', 'policy', 'window' }) do
        put(field, row[field])
      end
    end
    if #args > 1 then redis.call('HSET', unpack(args)) end
    if row.new then
      redis.call('SADD', P .. 'ledgers', row.id)
      redis.call('SADD', P .. 'units:' .. row.scope, row.unit)
      row.new = nil
    end
    for i = 2, #args, 2 do loaded[args[i]] = args[i + 1] end
    row.loaded = loaded
    row.dirty = nil
  end
  return true
end

local function persist_dirty(rows)
  local dirty = {}
  for _, row in ipairs(rows) do
    if row.dirty or row.new then dirty[#dirty + 1] = row end
  end
  return persist(dirty)
end

-- The reply form of a row: every number as a decimal string.
local function row_out(row)
  return { row.ledgerId, row.scope, row.unit, S(row.allocated), S(row.remaining), S(row.reserved),
    S(row.spent), S(row.debt), S(row.overdraftLimit), row.over, row.status, row.caps or '',
    row.policy or '', row.window or '', row.periodStartMs and S(row.periodStartMs) or '',
    row.periodEndMs and S(row.periodEndMs) or '' }
end

local function rows_out(rows)
  local out = {}
  for i, row in ipairs(rows) do out[i] = row_out(row) end
  return out
end

-- A new (unsaved) row from a definition whose amounts are decimal strings.
local function new_row(def)
  local allocated = tonumber(def.allocated)
  local row = { id = def.scope .. '|' .. def.unit, new = true, scope = def.scope, unit = def.unit,
    allocated = allocated, remaining = allocated, reserved = 0, spent = 0, debt = 0,
    overdraftLimit = tonumber(def.overdraftLimit or '0'), over = '0', status = def.status or 'ACTIVE',
    caps = opt(def.caps), hasCaps = def.hasCaps or '0', policy = opt(def.policy), window = opt(def.window) }
  roll(row)
  return row
end

local function assign_ledger_id(row)
  if row.new and row.ledgerId == nil then row.ledgerId = next_id('led_') end
end

-- ---- templates -----------------------------------------------------------------------------------
local function split(text, separator)
  local parts = {}
  for part in string.gmatch(text, '[^' .. separator .. ']+') do parts[#parts + 1] = part end
  return parts
end

local function templates()
  if TEMPLATES == nil then
    TEMPLATES = {}
    for i, encoded in ipairs(redis.call('LRANGE', P .. 'templates', 0, -1)) do TEMPLATES[i] = cjson.decode(encoded) end
  end
  return TEMPLATES
end

local function matches(pattern, scope)
  local wanted, actual = split(pattern, '/'), split(scope, '/')
  if #wanted ~= #actual then return false end
  for i = 1, #wanted do
    local want, have = wanted[i], actual[i]
    if want ~= have then
      if string.sub(want, -2) ~= ':*' then return false end
      local level = string.sub(want, 1, -2)
      if string.sub(have, 1, #level) ~= level then return false end
    end
  end
  return true
end

local function find_template(scope, unit)
  for _, template in ipairs(templates()) do
    if template.unit == unit and matches(template.pattern, scope) then return template end
  end
  return nil
end

-- The budgeted rows of a subject's scopes in a unit (template ledgers built, unsaved, on first use).
local function budgeted_rows(scopes, unit)
  local rows = {}
  for _, scope in ipairs(scopes) do
    local row = load_row(scope .. '|' .. unit)
    if row == nil then
      local template = find_template(scope, unit)
      if template ~= nil then
        row = new_row({ scope = scope, unit = unit, allocated = template.allocated,
          overdraftLimit = template.overdraftLimit, caps = template.caps, hasCaps = template.hasCaps,
          policy = template.policy, window = template.window })
      end
    else
      roll(row)
    end
    if row ~= nil then rows[#rows + 1] = row end
  end
  return rows
end

local function save_new_rows(rows)
  for _, row in ipairs(rows) do assign_ledger_id(row) end
end

-- UNIT_MISMATCH when a scope is budgeted (or templated) only in other units.
local function unit_mismatch(scopes, unit)
  for _, scope in ipairs(scopes) do
    local units = {}
    for _, member in ipairs(redis.call('SMEMBERS', P .. 'units:' .. scope)) do units[member] = true end
    for _, template in ipairs(templates()) do
      if matches(template.pattern, scope) then units[template.unit] = true end
    end
    units[unit] = nil
    local expected = {}
    for member in pairs(units) do expected[#expected + 1] = member end
    if #expected > 0 then
      table.sort(expected)
      return { e = 'UNIT_MISMATCH', scope = scope, unit = unit, expected = expected }
    end
  end
  return nil
end

local function tenant_settings(tenant)
  if tenant == nil or tenant == '' then return {} end
  local values = redis.call('HMGET', P .. 'tenant:' .. tenant, 'status', 'defaultCommitOveragePolicy',
    'defaultReservationTtlMs', 'maxReservationTtlMs', 'maxReservationExtensions')
  return { status = values[1] or nil, policy = values[2] or nil, ttl = tonumber(values[3] or ''),
    maxTtl = tonumber(values[4] or ''), maxExtensions = tonumber(values[5] or '') }
end

-- Overage policy: request > deepest ledger that sets one > tenant default > ALLOW_IF_AVAILABLE.
local function overage_policy(requested, rows, settings)
  if requested ~= nil then return requested end
  for i = #rows, 1, -1 do
    if rows[i].policy ~= nil then return rows[i].policy end
  end
  return settings.policy or 'ALLOW_IF_AVAILABLE'
end

-- The reserve gates (PROTOCOL.md §2.2 step 4): first failing scope wins.
local function evaluate(rows, estimate, minimum)
  local hold = estimate
  for i, row in ipairs(rows) do
    if row.status == 'FROZEN' then return nil, 'BUDGET_FROZEN', i, estimate end
    if row.status == 'CLOSED' then return nil, 'BUDGET_CLOSED', i, estimate end
    if row.over == '1' then return nil, 'OVERDRAFT_LIMIT_EXCEEDED', i, estimate end
    if row.debt > 0 and row.overdraftLimit == 0 then return nil, 'DEBT_OUTSTANDING', i, estimate end
    if row.remaining < estimate then
      if minimum == nil or row.remaining < minimum then return nil, 'BUDGET_EXCEEDED', i, minimum or estimate end
      if row.remaining < hold then hold = row.remaining end
    end
  end
  return hold
end

-- planOverage of core/ledger/commit-math.ts, on row tables.
local function plan_overage(rows, overrun, policy)
  local count = #rows
  local plan = {}
  if policy == 'REJECT' then
    for i = 1, count do
      if rows[i].remaining < overrun then return nil, 'BUDGET_EXCEEDED', i end
    end
    for i = 1, count do plan[i] = { spent = overrun, debt = 0, flag = false } end
    return overrun, plan
  end
  if policy == 'ALLOW_IF_AVAILABLE' then
    local extra = overrun
    for i = 1, count do extra = math.min(extra, math.max(rows[i].remaining, 0)) end
    local capped = extra < overrun
    for i = 1, count do plan[i] = { spent = extra, debt = 0, flag = capped and rows[i].remaining < overrun } end
    return extra, plan
  end
  local extra = overrun
  for i = 1, count do
    local row = rows[i]
    if row.overdraftLimit == 0 and row.remaining < overrun then extra = math.min(extra, math.max(row.remaining, 0)) end
  end
  for i = 1, count do
    local row = rows[i]
    if row.overdraftLimit > 0 and row.remaining < extra then
      local shortfall = extra - math.max(row.remaining, 0)
      if row.debt + shortfall > row.overdraftLimit then return nil, 'OVERDRAFT_LIMIT_EXCEEDED', i end
    end
  end
  local capped = extra < overrun
  for i = 1, count do
    local row = rows[i]
    local zero_capped = capped and row.overdraftLimit == 0 and row.remaining < overrun
    if row.remaining >= extra then
      plan[i] = { spent = extra, debt = 0, flag = zero_capped }
    else
      local covered = math.max(row.remaining, 0)
      local debt = extra - covered
      plan[i] = { spent = covered, debt = debt, flag = (row.debt + debt > row.overdraftLimit) or zero_capped }
    end
  end
  return extra, plan
end

local function apply_plan(rows, extra, plan)
  for i, row in ipairs(rows) do
    row.remaining = row.remaining - extra
    row.spent = row.spent + plan[i].spent
    row.debt = row.debt + plan[i].debt
    if plan[i].flag then row.over = '1' end
  end
end

local function row_error(code, row, requested)
  return { e = code, row = row_out(row), requested = S(requested) }
end

local OVERFLOW = { e = 'OVERFLOW' }

-- Milliseconds until a windowed blocking ledger resets (BUDGET_EXCEEDED only), as a string or nil.
local function retry_after(reason, row)
  if reason ~= 'BUDGET_EXCEEDED' or row.periodEndMs == nil then return nil end
  return S(math.max(0, row.periodEndMs - NOW))
end

-- ---- reservations --------------------------------------------------------------------------------
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

local function idem_put(namespace, payload, outcome, min_ms)
  local keep = math.max(IDEM_MS, min_ms or 0)
  redis.call('SET', P .. 'i:' .. namespace, S(NOW + keep) .. '\0' .. payload .. '\0' .. outcome, 'PX', S(keep))
end

local function list_args(from)
  local list = {}
  local i = from
  while A(i) ~= nil do
    list[#list + 1] = A(i)
    i = i + 1
  end
  return list
end

local MAX_LAZY_EXPIRIES = 1000
`;
