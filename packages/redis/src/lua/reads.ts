// Read scripts: balances, ledger states, reservation reads and the expiry sweep. Reads also run lazy
// expiry and window rolls first, so what they show is what the next reserve would see.

/** The fields of a reservation a read returns (the accounting fields stay in Lua), numbers as strings. */
const RESERVATION_VIEW = `
local function rsv_view(rsv)
  return { id = rsv.id, tenant = rsv.tenant, status = rsv.status, unit = rsv.unit, estimate = S(rsv.estimate),
    createdAtMs = S(rsv.createdAtMs), expiresAtMs = S(rsv.expiresAtMs), record = rsv.record,
    committed = rsv.committed and S(rsv.committed), finalizedAtMs = rsv.finalizedAtMs and S(rsv.finalizedAtMs),
    cmeta = rsv.cmeta }
end
`;

/** Every ledger id: provisioned ones, then template ones (deduplicated: a stale member may remain). */
const LEDGER_IDS = `
local function ledger_ids()
  local ids, seen = {}, {}
  for _, id in ipairs(redis.call('SMEMBERS', P .. 'ledgers')) do
    ids[#ids + 1] = id
    seen[id] = true
  end
  for _, member in ipairs(redis.call('ZRANGE', P .. 'tl', 0, -1)) do
    local _, _, _, id = tl_keys(member)
    if not seen[id] then
      ids[#ids + 1] = id
      seen[id] = true
    end
  end
  return ids
end
`;

/** getBalances: A1 caller tenant ('' = any), A2.. wanted `level:value` segments. */
export const BALANCES = `${LEDGER_IDS}${`
expire_due(MAX_LAZY_EXPIRIES)
local caller = A(1)
local wanted = list_args(2)
local rows = {}
for _, id in ipairs(ledger_ids()) do
  local row = load_row(id)
  local keep = row ~= nil
  if keep and caller ~= '' then
    local tenant = string.match(row.scope, '^tenant:([^/]+)')
    keep = tenant == caller
  end
  if keep then
    local segments = {}
    for _, segment in ipairs(split(row.scope, '/')) do segments[segment] = true end
    for _, segment in ipairs(wanted) do
      if not segments[segment] then keep = false; break end
    end
  end
  if keep then
    roll(row)
    rows[#rows + 1] = row
  end
end
if NEED_COUNT > 0 then return need_reply() end
persist_dirty(rows)
return reply({ rows = rows_out(rows) })
`}`;

/** listLedgers: every ledger, windows rolled. */
export const LIST_LEDGERS = `${LEDGER_IDS}${`
expire_due(MAX_LAZY_EXPIRIES)
local rows = {}
for _, id in ipairs(ledger_ids()) do
  local row = load_row(id)
  if row ~= nil then
    roll(row)
    rows[#rows + 1] = row
  end
end
if NEED_COUNT > 0 then return need_reply() end
persist_dirty(rows)
return reply({ rows = rows_out(rows) })
`}`;

/** getLedger: A1 ledger id (scope|unit). */
export const GET_LEDGER = `
expire_due(MAX_LAZY_EXPIRIES)
local row = load_row(A(1))
if row == nil then return reply({ rows = {} }) end
roll(row)
if NEED_COUNT > 0 then return need_reply() end
persist_dirty({ row })
return reply({ rows = { row_out(row) } })
`;

/** getReservation: A1 id, A2 caller tenant. */
export const GET_RESERVATION = `${RESERVATION_VIEW}${`
expire_due(MAX_LAZY_EXPIRIES)
local rsv, failure = rsv_for(A(1), A(2))
if failure then return reply(failure) end
if rsv.status == 'EXPIRED' then return reply({ e = 'RESERVATION_EXPIRED', id = rsv.id, exp = S(rsv.expiresAtMs) }) end
return reply({ rsv = rsv_view(rsv) })
`}`;

/** listReservations: A1 caller tenant ('' = any). Filtering, sorting and paging happen in JavaScript. */
export const LIST_RESERVATIONS = `${RESERVATION_VIEW}${`
expire_due(MAX_LAZY_EXPIRIES)
local caller = A(1)
local list = {}
-- Every retained reservation is on the due index (active and ended alike).
for _, id in ipairs(redis.call('ZRANGE', P .. 'due', 0, -1)) do
  local rsv = load_rsv(id)
  if rsv ~= nil and (caller == '' or rsv.tenant == caller) then list[#list + 1] = rsv_view(rsv) end
end
return reply({ list = list })
`}`;

/**
 * sweep: A1 most reservations to expire, and most past retention to forget, in this call (the caller
 * loops while it gets either limit back).
 */
export const SWEEP = `
-- The indexes of the layout before the due index (until 2026-12-07: active holds on expiry by expiry +
-- grace, ended ones on ended by end time) are moved onto it, a batch per sweep, so no hold they carry
-- is left unexpired after an upgrade.
for _, old in ipairs({ { 'expiry', 0 }, { 'ended', RETENTION - 1 } }) do
  if redis.call('EXISTS', P .. 'expiry', P .. 'ended') == 0 then break end
  local members = redis.call('ZRANGE', P .. old[1], 0, 9999, 'WITHSCORES')
  local ids = {}
  for i = 1, #members, 2 do
    due_at(members[i], tonumber(members[i + 1]) + old[2])
    ids[#ids + 1] = members[i]
  end
  if #ids > 0 then redis.call('ZREM', P .. old[1], unpack(ids)) end
end
local count, pruned = expire_due(tonumber(A(1)), true)
tl_count(P .. 'tl')
return reply({ count = S(count), pruned = S(pruned) })
`;

/** templateCounts: the live template ledgers in all and per tenant (ended ones trimmed first). */
export const TEMPLATE_COUNTS = `
local total = tl_count(P .. 'tl')
local by_tenant = {}
for _, member in ipairs(redis.call('ZRANGE', P .. 'tl', 0, -1)) do
  local tenant = string.match(member, '^%d+|[^|]*|[^|]*|(.*)$')
  by_tenant[tenant] = (by_tenant[tenant] or 0) + 1
end
local list = {}
for tenant, count in pairs(by_tenant) do list[#list + 1] = { tenant, S(count) } end
return reply({ count = S(total), list = list })
`;
