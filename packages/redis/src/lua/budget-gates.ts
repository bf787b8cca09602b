// Lua: the budgeted rows of a subject (template ledgers on first use), tenant settings, the reserve
// gates (PROTOCOL.md §2.2) and the overage plan of commits and events (§2.4, §2.10).

export const BUDGET_GATES = `
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
  for index, template in ipairs(templates()) do
    if template.unit == unit and matches(template.pattern, scope) then return template, index end
  end
  return nil
end

-- Looks at up to limit members of a template set whose window ended: forgets gone (expired, removed,
-- adopted) ledgers, drops those holding and owing nothing (equal to the fresh one their next use would
-- create), re-scores the rest. Returns how many it looked at.
local function tl_trim(key, limit)
  local members = redis.call('ZRANGEBYSCORE', key, '-inf', S(NOW), 'LIMIT', 0, limit)
  for _, member in ipairs(members) do
    local _, _, _, id = tl_keys(member)
    local row = load_row(id)
    if row == nil or row.tpl ~= member then
      tl_forget(member)
    elseif row.periodEndMs ~= nil and row.periodEndMs > NOW then
      tl_add(member, S(row.periodEndMs))
    elseif row.reserved == 0 and row.debt == 0 then
      delete_row(id)
      tl_forget(member)
    else
      tl_add(member, S(NOW + 60000))
    end
  end
  return #members
end

-- The live template ledgers of a set, once its ended members are trimmed (bounded work per call).
local function tl_count(key)
  for _ = 1, 20 do
    if tl_trim(key, 100) < 100 then break end
  end
  return redis.call('ZCARD', key)
end

local function tl_refusal(bound, limit, count, row, tenant)
  return { e = 'TEMPLATE_LIMIT', bound = bound, limit = S(limit), count = S(count), scope = row.scope,
    tenant = tenant, template = row.template.pattern, unit = row.unit }
end

-- The error record if the new template ledgers do not all fit under every bound (core's
-- TemplateCensus.admit, in the same order), else nil.
local function tl_admit(fresh, tenant)
  local total = tl_count(P .. 'tl')
  if total + #fresh > MAX_TL then return tl_refusal('maxTemplateLedgers', MAX_TL, total, fresh[1], tenant) end
  local tenant_limit = MAX_TL_TENANT
  if tenant ~= '' then
    tenant_limit = tonumber(redis.call('HGET', P .. 'tenant:' .. tenant, 'maxTemplateLedgers') or '') or MAX_TL_TENANT
  end
  local tenant_count = tl_count(P .. 'tl:t:' .. tenant)
  local per_template = {}
  for i, row in ipairs(fresh) do
    if tenant_count + i > tenant_limit then
      return tl_refusal('maxTemplateLedgersPerTenant', tenant_limit, tenant_count, row, tenant)
    end
    local max = tonumber(row.template.maxLedgers or '')
    if max ~= nil then
      local counted = per_template[row.index]
      if counted == nil then
        counted = { base = tl_count(P .. 'tl:p:' .. row.index), added = 0 }
        per_template[row.index] = counted
      end
      counted.added = counted.added + 1
      if counted.base + counted.added > max then
        return tl_refusal('template.maxLedgers', max, counted.base, row, tenant)
      end
    end
  end
  return nil
end

-- On Redis Cluster: the tenant's bound here (exact: its keys are all in this slot); the bounds across
-- tenants by the global tag's census. A fresh row not admitted by it within half the census lease is
-- asked for (answered with the window needs, before anything is written); events are admitted without
-- a bound check but still counted.
local CENSUS_LEASE_MS = 30000
local function tl_admit_cluster(fresh, tenant, unbounded)
  if not unbounded then
    local tenant_limit = MAX_TL_TENANT
    if tenant ~= '' then
      tenant_limit = tonumber(redis.call('HGET', P .. 'tenant:' .. tenant, 'maxTemplateLedgers') or '') or MAX_TL_TENANT
    end
    local tenant_count = tl_count(P .. 'tl:t:' .. tenant)
    if tenant_count + #fresh > tenant_limit then
      return tl_refusal('maxTemplateLedgersPerTenant', tenant_limit, tenant_count, fresh[math.max(1, tenant_limit - tenant_count + 1)], tenant)
    end
  end
  local missing = {}
  for _, row in ipairs(fresh) do
    local at = ADMITTED[row.tpl]
    if at == nil or NOW >= at + CENSUS_LEASE_MS / 2 then
      missing[#missing + 1] = { m = row.tpl, scope = row.scope, unit = row.unit, pattern = row.template.pattern,
        index = S(row.index), max = row.template.maxLedgers or '' }
    end
  end
  if #missing > 0 then
    ADMIT = { tenant = tenant, unbounded = unbounded and '1' or '0', rows = missing }
    NEED_COUNT = NEED_COUNT + 1
  end
  return nil
end

-- The budgeted rows of a subject's scopes in a unit (template ledgers built, unsaved, on first use,
-- counted against tenant), and an error record when a template bound refuses the new ones (never for
-- events, unbounded: they record spend that already happened; see core's LedgerCatalog.budgetedRows).
local function budgeted_rows(scopes, unit, tenant, unbounded)
  -- Presized (see load_rows).
  local ids, count = { nil, nil, nil, nil }, #scopes
  for i = 1, count do ids[i] = scopes[i] .. '|' .. unit end
  local loaded = load_rows(ids)
  local rows = { nil, nil, nil, nil }
  local fresh = {}
  for i = 1, count do
    local scope = scopes[i]
    local row = loaded[i] or nil
    if row == nil then
      local template, index = find_template(scope, unit)
      if template ~= nil then
        row = new_row({ scope = scope, unit = unit, allocated = template.allocated,
          overdraftLimit = template.overdraftLimit, caps = template.caps, hasCaps = template.hasCaps,
          policy = template.policy, window = template.window })
        row.tpl = index .. '|' .. scope .. '|' .. unit .. '|' .. tenant
        row.template = template
        row.index = index
        fresh[#fresh + 1] = row
      end
    elseif row.window ~= nil then
      roll(row)
    end
    if row ~= nil then rows[#rows + 1] = row end
  end
  if #fresh > 0 and NEED_COUNT == 0 then
    if CLUSTER then return rows, tl_admit_cluster(fresh, tenant, unbounded) end
    if not unbounded then return rows, tl_admit(fresh, tenant) end
  end
  return rows
end

local function save_new_rows(rows)
  for r = 1, #rows do
    if rows[r].new then assign_ledger_id(rows[r]) end
  end
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
  local key = P .. 'tenant:' .. tenant
  local known = GROUP and GROUP.tenants[key]
  if known then return known end
  local values = redis.call('HMGET', key, 'status', 'defaultCommitOveragePolicy',
    'defaultReservationTtlMs', 'maxReservationTtlMs', 'maxReservationExtensions', 'maxReservations',
    'observeMode')
  local settings = { status = values[1] or nil, policy = values[2] or nil, ttl = tonumber(values[3] or ''),
    maxTtl = tonumber(values[4] or ''), maxExtensions = tonumber(values[5] or ''),
    maxReservations = tonumber(values[6] or ''), observe = values[7] == 'true' }
  if GROUP then GROUP.tenants[key] = settings end
  return settings
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
  for i = 1, #rows do
    local row = rows[i]
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
`;
