// One Lua script per runtime operation. Each runs atomically on the server: lazy expiry first, then
// every check, then every write, so no interleaving of callers can overspend a scope.

/** reserve: A1 namespace, A2 payload, A3 tenant, A4 mode ('1' dry run or observe, '0' enforce,
 * '' the tenant's observe default, 'd' a dry run observed if the tenant observes), A5 unit, A6 estimate, A7 minimum,
 * A8 ttl, A9 grace, A10 policy, A11 include balances, A12 record JSON, A13 new reservation id,
 * A14.. scopes. */
export const RESERVE = String.raw`
expire_due(MAX_LAZY_EXPIRIES)
-- The arguments as named locals: one unpack (A(i) is a function call each).
local namespace, payload, tenant, mode, unit, estimate, minimum, ttl_arg, grace_arg, policy_arg, balances, record,
  id = unpack(ARGS, 5, 17)
local replay, mismatch = idem_get(namespace, payload)
if mismatch then return reply(mismatch) end
if replay then
  local stored = cjson.decode(replay)
  local ttl = 0
  local rsv = stored.id and load_rsv(stored.id)
  if rsv and rsv.status == 'ACTIVE' then ttl = math.max(0, rsv.expiresAtMs - NOW) end
  return reply({ replay = replay, ttl = S(ttl) })
end
local scopes = list_args(14)
estimate, minimum = tonumber(estimate), tonumber(minimum)
local settings = tenant_settings(tenant)
local dry = mode == '1' or mode == 'd' or (mode == '' and settings.observe)
local function store(outcome, hold_ms)
  -- Observed by the tenant's default (the request did not choose): the ledger's caller emits its event.
  if (mode == '' or mode == 'd') and settings.observe then outcome.obs = 1 end
  local encoded = cjson.encode(outcome)
  idem_put(namespace, payload, encoded, hold_ms)
  return reply_outcome(encoded)
end
if settings.status == 'CLOSED' then
  if not dry then return reply({ e = 'TENANT_CLOSED', tenant = tenant }) end
  return store({ d = 'DENY', reason = 'TENANT_CLOSED' })
end
local rows, refused = budgeted_rows(scopes, unit, tenant)
if NEED_COUNT > 0 then return need_reply() end
if refused then return reply(refused) end
if #rows == 0 then
  local wrong = unit_mismatch(scopes, unit)
  if wrong then return reply(wrong) end
  if not dry then return reply({ e = 'NOT_FOUND_BUDGET', scope = scopes[#scopes] }) end
  return store({ d = 'DENY', reason = 'BUDGET_NOT_FOUND' })
end
local hold, reason, index, requested = evaluate(rows, estimate, minimum)
if hold == nil then
  save_new_rows(rows)
  persist_dirty(rows)
  if not dry then return reply(row_error(reason, rows[index], requested)) end
  return store({ d = 'DENY', reason = reason, retry = retry_after(reason, rows[index]), bal = rows_out(rows),
    at = rows[index].scope, rem = S(rows[index].remaining), req = S(requested) })
end
local leaf = rows[#rows]
local outcome = { d = 'ALLOW', hold = S(hold) }
if leaf.scope == scopes[#scopes] and leaf.hasCaps == '1' then
  outcome.d = 'ALLOW_WITH_CAPS'
  outcome.caps = leaf.caps
end
if hold < estimate then outcome.partial = true end
save_new_rows(rows)
if dry then
  persist_dirty(rows)
  outcome.bal = rows_out(rows)
  return store(outcome)
end
local wait = take_room(tenant, settings.maxReservations or MAX_PER_TENANT)
if wait > 0 then
  persist_dirty(rows)
  return reply({ e = 'LIMIT_RESERVATIONS', tenant = tenant, retry = S(wait) })
end
for r = 1, #rows do
  local row = rows[r]
  row.reserved = row.reserved + hold
  row.remaining = row.remaining - hold
end
local ttl = math.min(tonumber(ttl_arg) or settings.ttl or 60000, settings.maxTtl or 3600000)
local grace = tonumber(grace_arg) or 5000
local row_ids = { nil, nil, nil, nil }
for r = 1, #rows do row_ids[r] = rows[r].id end
local rsv = encode_rsv({ tenant = tenant, status = 'ACTIVE', unit = unit, estimate = hold,
  rows = table.concat(row_ids, '\n'), createdAtMs = NOW, expiresAtMs = NOW + ttl, graceMs = grace,
  policy = overage_policy(opt(policy_arg), rows, settings), extensions = 0,
  maxExtensions = settings.maxExtensions or 10, record = record })
if not persist(rows, rsv_key(id), rsv) then
  redis.call('DECR', held_key(tenant))
  return reply(OVERFLOW)
end
due_at(id, NOW + ttl + grace)
if outcome.d == 'ALLOW' and balances ~= '1' then
  -- The common answer written out (cjson walks a table through the Lua API): ids and decimal
  -- strings only, nothing to escape.
  local encoded = '{"d":"ALLOW","hold":"' .. S(hold) .. (outcome.partial and '","partial":true,"id":"' or '","id":"')
    .. id .. '","exp":"' .. time_text(NOW + ttl, GROUP and GROUP.texts) .. '","ttl":"'
    .. time_text(ttl, GROUP and GROUP.texts) .. '"}'
  idem_put(namespace, payload, encoded, ttl + grace)
  return reply_outcome(encoded)
end
outcome.id = id
outcome.exp = S(NOW + ttl)
outcome.ttl = S(ttl)
if balances == '1' then outcome.bal = rows_out(rows) end
return store(outcome, ttl + grace)
`;

/** commit: A1 id, A2 caller tenant, A3 key, A4 payload, A5 unit, A6 actual, A7 metadata JSON, A8 include balances. */
export const COMMIT = `
expire_due(MAX_LAZY_EXPIRIES)
-- The arguments as named locals: one unpack (A(i) is a function call each).
local id, caller, key, payload, unit, actual, metadata, balances = unpack(ARGS, 5, 12)
local rsv, failure = rsv_for(id, caller)
if failure then return reply(failure) end
if rsv.ck == key then
  if rsv.cp ~= payload then return reply({ e = 'IDEMPOTENCY_MISMATCH' }) end
  return reply({ replay = rsv.cr })
end
failure = guard_open(rsv)
if failure then return reply(failure) end
if unit ~= rsv.unit then return reply({ e = 'UNIT_MISMATCH_COMMIT', unit = unit, expected = { rsv.unit } }) end
if NOW > rsv.expiresAtMs + rsv.graceMs then
  return reply({ e = 'RESERVATION_EXPIRED', id = rsv.id, exp = S(rsv.expiresAtMs) })
end
local rows = rsv_rows(rsv)
for r = 1, #rows do
  if rows[r].window ~= nil then roll(rows[r]) end
end
if NEED_COUNT > 0 then return need_reply() end
local estimate = rsv.estimate
actual = tonumber(actual)
local charged = actual
if actual <= estimate then
  for r = 1, #rows do
    local row = rows[r]
    row.reserved = row.reserved - estimate
    row.remaining = row.remaining + estimate - actual
    row.spent = row.spent + actual
  end
else
  local overrun = actual - estimate
  if rsv.policy == 'REJECT' then
    local blocking = rows[#rows]
    for _, row in ipairs(rows) do
      if row.remaining < overrun then blocking = row; break end
    end
    persist_dirty(rows)
    return reply(row_error('BUDGET_EXCEEDED', blocking, actual))
  end
  local extra, plan, index = plan_overage(rows, overrun, rsv.policy)
  if extra == nil then
    persist_dirty(rows)
    return reply(row_error(plan, rows[index], actual))
  end
  for _, row in ipairs(rows) do row.reserved = row.reserved - estimate; row.spent = row.spent + estimate end
  apply_plan(rows, extra, plan)
  charged = estimate + extra
end
local encoded
if balances == '1' then
  local outcome = { charged = S(charged), bal = rows_out(rows) }
  if charged < estimate then outcome.released = S(estimate - charged) end
  encoded = cjson.encode(outcome)
elseif charged < estimate then
  encoded = '{"charged":"' .. S(charged) .. '","released":"' .. S(estimate - charged) .. '"}'
else
  encoded = '{"charged":"' .. S(charged) .. '"}'
end
local stored = { committed = charged, cmeta = metadata, ck = key, cp = payload, cr = encoded }
if not end_rsv(rsv, 'COMMITTED', stored, rows) then return reply(OVERFLOW) end
return reply_outcome(encoded)
`;

/** release: A1 id, A2 caller tenant, A3 key, A4 payload, A5 include balances. */
export const RELEASE = `
expire_due(MAX_LAZY_EXPIRIES)
local rsv, failure = rsv_for(A(1), A(2))
if failure then return reply(failure) end
if rsv.rk == A(3) then
  if rsv.rp ~= A(4) then return reply({ e = 'IDEMPOTENCY_MISMATCH' }) end
  return reply({ replay = rsv.rr })
end
failure = guard_open(rsv)
if failure then return reply(failure) end
if NOW > rsv.expiresAtMs + rsv.graceMs then
  return reply({ e = 'RESERVATION_EXPIRED', id = rsv.id, exp = S(rsv.expiresAtMs) })
end
local rows = rsv_rows(rsv)
for r = 1, #rows do
  if rows[r].window ~= nil then roll(rows[r]) end
end
if NEED_COUNT > 0 then return need_reply() end
for r = 1, #rows do
  local row = rows[r]
  row.reserved = row.reserved - rsv.estimate
  row.remaining = row.remaining + rsv.estimate
end
local outcome = { released = S(rsv.estimate), unit = rsv.unit }
if A(5) == '1' then outcome.bal = rows_out(rows) end
local encoded = cjson.encode(outcome)
end_rsv(rsv, 'RELEASED', { rk = A(3), rp = A(4), rr = encoded }, rows)
return reply_outcome(encoded)
`;

/** extend: A1 id, A2 caller tenant, A3 key, A4 payload, A5 extend by ms, A6 include balances. */
export const EXTEND = `
expire_due(MAX_LAZY_EXPIRIES)
local rsv, failure = rsv_for(A(1), A(2))
if failure then return reply(failure) end
local function ttl_now()
  if rsv.status ~= 'ACTIVE' then return 0 end
  return math.max(0, rsv.expiresAtMs - NOW)
end
local stored = redis.call('HGET', P .. 'x:' .. rsv.id, A(3))
if stored then
  local record = cjson.decode(stored)
  if record.p ~= A(4) then return reply({ e = 'IDEMPOTENCY_MISMATCH' }) end
  return reply({ replay = record.r, ttl = S(ttl_now()) })
end
failure = guard_open(rsv)
if failure then return reply(failure) end
if NOW > rsv.expiresAtMs then return reply({ e = 'RESERVATION_EXPIRED', id = rsv.id, exp = S(rsv.expiresAtMs) }) end
local extensions, max_extensions = rsv.extensions, rsv.maxExtensions
if extensions >= max_extensions then
  return reply({ e = 'MAX_EXTENSIONS_EXCEEDED', id = rsv.id, extensions = S(extensions), max = S(max_extensions) })
end
local expires = rsv.expiresAtMs + tonumber(A(5))
rsv.expiresAtMs = expires
rsv.extensions = extensions + 1
save_rsv(rsv)
due_at(rsv.id, expires + rsv.graceMs)
local outcome = { exp = S(expires), ttl = S(expires - NOW) }
if A(6) == '1' then outcome.bal = rows_out(rsv_rows(rsv)) end
local encoded = cjson.encode(outcome)
redis.call('HSET', P .. 'x:' .. rsv.id, A(3), cjson.encode({ p = A(4), r = encoded }))
return reply_outcome(encoded)
`;

/** decide: A1 namespace, A2 payload, A3 tenant, A4 unit, A5 estimate, A6.. scopes. */
export const DECIDE = `
expire_due(MAX_LAZY_EXPIRIES)
local namespace, payload, tenant = A(1), A(2), A(3)
local replay, mismatch = idem_get(namespace, payload)
if mismatch then return reply(mismatch) end
if replay then return reply({ replay = replay }) end
local scopes = list_args(6)
local unit, estimate = A(4), tonumber(A(5))
local outcome
if tenant_closed(tenant) then
  outcome = { d = 'DENY', reason = 'TENANT_CLOSED' }
else
  local rows, refused = budgeted_rows(scopes, unit, tenant)
  if NEED_COUNT > 0 then return need_reply() end
  if refused then return reply(refused) end
  if #rows == 0 then
    local wrong = unit_mismatch(scopes, unit)
    if wrong then return reply(wrong) end
    outcome = { d = 'DENY', reason = 'BUDGET_NOT_FOUND' }
  else
    save_new_rows(rows)
    persist_dirty(rows)
    local hold, reason, index, requested = evaluate(rows, estimate, nil)
    local leaf = rows[#rows]
    if hold == nil then
      outcome = { d = 'DENY', reason = reason, retry = retry_after(reason, rows[index]),
        at = rows[index].scope, rem = S(rows[index].remaining), req = S(requested) }
    elseif leaf.scope == scopes[#scopes] and leaf.hasCaps == '1' then
      outcome = { d = 'ALLOW_WITH_CAPS', caps = leaf.caps }
    else
      outcome = { d = 'ALLOW' }
    end
  end
end
local encoded = cjson.encode(outcome)
idem_put(namespace, payload, encoded)
return reply_outcome(encoded)
`;

/** event: A1 namespace, A2 payload, A3 tenant, A4 unit, A5 actual, A6 policy, A7 include balances, A8.. scopes. */
export const EVENT = `
expire_due(MAX_LAZY_EXPIRIES)
local namespace, payload, tenant = A(1), A(2), A(3)
local replay, mismatch = idem_get(namespace, payload)
if mismatch then return reply(mismatch) end
if replay then return reply({ replay = replay }) end
local settings = tenant_settings(tenant)
if settings.status == 'CLOSED' then return reply({ e = 'TENANT_CLOSED', tenant = tenant }) end
local scopes = list_args(8)
local unit, actual = A(4), tonumber(A(5))
-- Unbounded: an event records spend that already happened (a template bound never refuses it).
local rows = budgeted_rows(scopes, unit, tenant, true)
if NEED_COUNT > 0 then return need_reply() end
if #rows == 0 then
  return reply(unit_mismatch(scopes, unit) or { e = 'NOT_FOUND_BUDGET', scope = scopes[#scopes] })
end
save_new_rows(rows)
-- Events are blocked only by ledger status: debt and the over-limit flag do not block them.
for _, row in ipairs(rows) do
  if row.status == 'FROZEN' or row.status == 'CLOSED' then
    persist_dirty(rows)
    return reply(row_error(row.status == 'FROZEN' and 'BUDGET_FROZEN' or 'BUDGET_CLOSED', row, actual))
  end
end
local policy = overage_policy(opt(A(6)), rows, settings)
local extra, plan, index = plan_overage(rows, actual, policy)
if extra == nil then
  persist_dirty(rows)
  return reply(row_error(plan, rows[index], actual))
end
apply_plan(rows, extra, plan)
if not persist(rows) then return reply(OVERFLOW) end
local outcome = { id = next_id('evt_') }
if extra < actual then outcome.charged = S(extra) end
if A(7) == '1' then outcome.bal = rows_out(rows) end
local encoded = cjson.encode(outcome)
idem_put(namespace, payload, encoded)
return reply_outcome(encoded)
`;
