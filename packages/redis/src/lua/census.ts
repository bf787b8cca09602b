// Redis Cluster: the census of template ledgers across tenants, for `maxTemplateLedgers` and a
// template's `maxLedgers`. The global tag keeps every template ledger of every tag in its census sets
// (`census`, `census:p:<template index>`; members `index|scope|unit|tenant`, as the tl sets), each
// scored by when to look at it again. The tenant's tag is the
// truth: a member leaves the census only once its tag says its ledger is gone (removed, adopted,
// expired, or dropped at its window end holding nothing), so the census never counts fewer ledgers
// than exist, and a bound is never passed. A fresh admission is scored a lease ahead: its tag creates
// the ledger only within half of it, and the census looks again only after it.

const CENSUS_SETS = `
local function census_keys(member)
  return P .. 'census', P .. 'census:p:' .. string.match(member, '^(%d+)|')
end
local function census_add(member, score)
  local all, by_template = census_keys(member)
  redis.call('ZADD', all, score, member)
  redis.call('ZADD', by_template, score, member)
end
local function census_forget(member)
  local all, by_template = census_keys(member)
  redis.call('ZREM', all, member)
  redis.call('ZREM', by_template, member)
end
`;

/** censusAdmit (global tag): A1 JSON { tenant, unbounded, rows: [{ m, scope, unit, pattern, index, max }] }. */
export const CENSUS_ADMIT = `${CENSUS_SETS}
local wanted = cjson.decode(A(1))
local due = redis.call('ZRANGEBYSCORE', P .. 'census', '-inf', S(NOW), 'LIMIT', 0, 100)
if #due > 0 then return reply({ due = due }) end
local fresh = {}
for _, row in ipairs(wanted.rows) do
  if not redis.call('ZSCORE', P .. 'census', row.m) then
    row.template = { pattern = row.pattern }
    fresh[#fresh + 1] = row
  end
end
if wanted.unbounded ~= '1' and #fresh > 0 then
  local total = redis.call('ZCARD', P .. 'census')
  if total + #fresh > MAX_TL then return reply(tl_refusal('maxTemplateLedgers', MAX_TL, total, fresh[1], wanted.tenant)) end
  local per_template = {}
  for _, row in ipairs(fresh) do
    local max = tonumber(row.max)
    if max ~= nil then
      local counted = per_template[row.index]
      if counted == nil then
        counted = { base = redis.call('ZCARD', P .. 'census:p:' .. row.index), added = 0 }
        per_template[row.index] = counted
      end
      counted.added = counted.added + 1
      if counted.base + counted.added > max then
        return reply(tl_refusal('template.maxLedgers', max, counted.base, row, wanted.tenant))
      end
    end
  end
end
for _, row in ipairs(wanted.rows) do census_add(row.m, S(NOW + CENSUS_LEASE_MS)) end
return reply({ at = S(NOW) })
`;

/** censusDue (global tag): up to A1 members due for a look, and how many are counted. */
export const CENSUS_DUE = `
local due = redis.call('ZRANGEBYSCORE', P .. 'census', '-inf', S(NOW), 'LIMIT', 0, tonumber(A(1)))
return reply({ due = due, count = S(redis.call('ZCARD', P .. 'census')) })
`;

/**
 * censusCheck (a tenant's tag): A1.. members of this tag. Answers, per member, 'gone' or when to look
 * again, dropping a ledger whose window is over and that holds and owes nothing (as tl_trim does).
 */
export const CENSUS_CHECK = `
local verdicts = {}
for _, member in ipairs(list_args(1)) do
  local _, _, _, id = tl_keys(member)
  local row = load_row(id)
  local verdict
  if row == nil or row.tpl ~= member then
    tl_forget(member)
    verdict = 'gone'
  elseif row.window == nil then
    verdict = '+inf'
  elseif row.periodEndMs ~= nil and row.periodEndMs > NOW then
    verdict = S(row.periodEndMs)
  elseif row.reserved == 0 and row.debt == 0 then
    delete_row(id)
    tl_forget(member)
    verdict = 'gone'
  else
    verdict = S(NOW + 60000)
  end
  verdicts[#verdicts + 1] = { member, verdict }
end
return reply({ verdicts = verdicts })
`;

/** censusResolve (global tag): A1.. member, verdict pairs from censusCheck (or 'gone' for an adopted one). */
export const CENSUS_RESOLVE = `${CENSUS_SETS}
local pairs_list = list_args(1)
for i = 1, #pairs_list, 2 do
  if pairs_list[i + 1] == 'gone' then census_forget(pairs_list[i]) else census_add(pairs_list[i], pairs_list[i + 1]) end
end
return reply({})
`;
