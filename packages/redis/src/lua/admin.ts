// Provisioning scripts: create, fund, status, limits, templates and tenant settings. Input is
// validated in JavaScript first (with core's rules); these scripts only check state and write.

/**
 * GOV Rule 2 inside the write's own script: a budget of a CLOSED tenant never changes again but to be
 * closed (a check made before the script could race the tenant's close). The scope's tenant settings
 * share its hash tag.
 */
const OWNER_CLOSED = `
local function owner_closed(scope)
  local tenant = string.match(scope, '^tenant:([^/]+)')
  if tenant ~= nil and redis.call('HGET', P .. 'tenant:' .. tenant, 'status') == 'CLOSED' then
    return { e = 'TENANT_CLOSED', tenant = tenant }
  end
  return nil
end
`;

/** createLedger: A1 definition JSON (amounts as decimal strings). */
export const CREATE_LEDGER = `${OWNER_CLOSED}
local def = cjson.decode(A(1))
local closed = owner_closed(def.scope)
if closed then return reply(closed) end
if redis.call('EXISTS', row_key(def.scope .. '|' .. def.unit)) == 1 then
  return reply({ e = 'DUPLICATE_LEDGER', scope = def.scope, unit = def.unit })
end
local row = new_row(def)
if NEED_COUNT > 0 then return need_reply() end
assign_ledger_id(row)
if not persist({ row }) then return reply(OVERFLOW) end
return reply({ rows = { row_out(row) } })
`;

/** fund: A1 ledger id, A2 namespace, A3 payload, A4 has key, A5 operation, A6 amount, A7 spent,
 * A8 amount valid, A9 spent valid. */
export const FUND = `${OWNER_CLOSED}
local row = load_row(A(1))
if row == nil then return reply({ e = 'NOT_FOUND_LEDGER', id = A(1) }) end
local closed = owner_closed(row.scope)
if closed then return reply(closed) end
if A(8) ~= '1' then return reply({ e = 'INVALID_FIELD', field = 'funding.amount' }) end
local has_key = A(4) == '1'
if has_key then
  local replay, mismatch = idem_get(A(2), A(3))
  if mismatch then return reply(mismatch) end
  if replay then return reply({ replay = replay }) end
end
roll(row)
if NEED_COUNT > 0 then return need_reply() end
if row.status == 'FROZEN' or row.status == 'CLOSED' then
  persist_dirty({ row })
  return reply(row_error(row.status == 'FROZEN' and 'BUDGET_FROZEN' or 'BUDGET_CLOSED', row, 0))
end
local previous = { S(row.allocated), S(row.remaining), S(row.debt), S(row.spent) }
local operation, amount = A(5), tonumber(A(6))
if operation == 'CREDIT' then
  row.allocated = row.allocated + amount
  row.remaining = row.remaining + amount
elseif operation == 'DEBIT' then
  if row.remaining < amount then
    persist_dirty({ row })
    return reply(row_error('BUDGET_EXCEEDED', row, amount))
  end
  row.allocated = row.allocated - amount
  row.remaining = row.remaining - amount
elseif operation == 'RESET' then
  row.allocated = amount
  row.remaining = amount - row.reserved - row.spent - row.debt
elseif operation == 'RESET_SPENT' then
  if A(9) ~= '1' then return reply({ e = 'INVALID_FIELD', field = 'funding.spent' }) end
  local spent = tonumber(A(7)) or 0
  row.allocated = amount
  row.spent = spent
  row.remaining = amount - spent - row.reserved - row.debt
elseif operation == 'REPAY_DEBT' then
  local repaid = math.min(row.debt, amount)
  row.debt = row.debt - repaid
  row.remaining = row.remaining + amount
  row.allocated = row.allocated + amount - repaid
else
  return reply({ e = 'INVALID_FIELD', field = 'funding.operation' })
end
row.over = over_after_reconcile(row)
adopt(row)
if not persist({ row }) then return reply(OVERFLOW) end
local encoded = cjson.encode({ previous = previous, current = row_out(row) })
if has_key then idem_put(A(2), A(3), encoded) end
return reply({ outcome = encoded })
`;

/** setLedgerStatus: A1 ledger id, A2 status (CLOSED is let through on a CLOSED tenant: its cascade). */
export const SET_STATUS = `${OWNER_CLOSED}
local row = load_row(A(1))
if row == nil then return reply({ e = 'NOT_FOUND_LEDGER', id = A(1) }) end
local closed = A(2) ~= 'CLOSED' and owner_closed(row.scope)
if closed then return reply(closed) end
local STATUSES = { ACTIVE = true, FROZEN = true, CLOSED = true }
if not STATUSES[A(2)] then return reply({ e = 'INVALID_FIELD', field = 'status' }) end
if row.status == 'CLOSED' and A(2) ~= 'CLOSED' then return reply({ e = 'CLOSED_TERMINAL', scope = row.scope }) end
row.status = A(2)
row.dirty = true
roll(row)
if NEED_COUNT > 0 then return need_reply() end
adopt(row)
persist_dirty({ row })
return reply({ rows = { row_out(row) } })
`;

/** updateLedger: A1 ledger id, A2 changes JSON ({ limit?, caps?, hasCaps?, policy? }; '' removes). */
export const UPDATE_LEDGER = `${OWNER_CLOSED}
local row = load_row(A(1))
if row == nil then return reply({ e = 'NOT_FOUND_LEDGER', id = A(1) }) end
local closed = owner_closed(row.scope)
if closed then return reply(closed) end
local changes = cjson.decode(A(2))
if changes.limit ~= nil then row.overdraftLimit = tonumber(changes.limit) end
for _, field in ipairs({ 'caps', 'policy', 'hasCaps' }) do
  local value = changes[field]
  if value ~= nil then row[field] = opt(value) end
end
-- As the reference admin plane: the flag is recomputed after every limit update.
row.over = over_after_reconcile(row)
row.dirty = true
roll(row)
if NEED_COUNT > 0 then return need_reply() end
adopt(row)
persist({ row })
return reply({ rows = { row_out(row) } })
`;

/** removeLedger: A1 ledger id. Refused while a reservation holds on it; a template recreates it fresh. */
export const REMOVE_LEDGER = `${OWNER_CLOSED}
local row = load_row(A(1))
if row == nil then return reply({ e = 'NOT_FOUND_LEDGER', id = A(1) }) end
local closed = owner_closed(row.scope)
if closed then return reply(closed) end
roll(row)
if NEED_COUNT > 0 then return need_reply() end
if row.reserved ~= 0 then
  return reply({ e = 'LEDGER_IN_USE', scope = row.scope, unit = row.unit, reserved = S(row.reserved) })
end
redis.call('DEL', row_key(row.id))
if row.tpl ~= nil then
  tl_forget(row.tpl)
  ADOPTED = row.tpl
end
redis.call('SREM', P .. 'ledgers', row.id)
redis.call('SREM', P .. 'units:' .. row.scope, row.unit)
return reply({ rows = { row_out(row) } })
`;

/** addTemplate: A1 template JSON (amounts as decimal strings). */
export const ADD_TEMPLATE = `
redis.call('RPUSH', P .. 'templates', A(1))
return reply({})
`;

/** setTenant: A1 tenant, A2.. field/value pairs (replaces the settings). */
export const SET_TENANT = `
local key = P .. 'tenant:' .. A(1)
redis.call('DEL', key)
local pairs_list = list_args(2)
if #pairs_list > 0 then redis.call('HSET', key, unpack(pairs_list)) end
return reply({})
`;

/**
 * syncTemplates (Redis Cluster): A1.. the template list of the global tag, in order. Templates are only
 * ever appended, so a tag's copy is a prefix of it: append what the copy lacks (idempotent, and an older
 * list never undoes a newer one).
 */
export const SYNC_TEMPLATES = `
local given = list_args(1)
local have = redis.call('LLEN', P .. 'templates')
for i = have + 1, #given do redis.call('RPUSH', P .. 'templates', given[i]) end
return reply({})
`;
