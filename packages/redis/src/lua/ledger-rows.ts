// Lua: one budget as a Redis hash: load, window roll (bounds supplied by JavaScript), bounds check,
// changed-field writes, and the reply form of a row.

// Lua: one budget as one string key holding its fields MessagePack-encoded: load (one MGET for all
// of a subject's rows), window roll (bounds supplied by JavaScript), bounds check, write-back of the
// rows that changed (one MSET), and the reply form of a row.
//
// Why MessagePack and not a hash of decimal strings: reading a hash converts every field into a Lua
// string and every counter through strtod, and writing formats each one back; on the reserve/commit
// hot path that was most of the script's time. cmsgpack keeps integers exact (int64 on the wire,
// doubles in Lua: exact up to 2^53, which in_bounds enforces).

export const LEDGER_ROWS = `
local function row_key(id) return P .. 'l:' .. id end

-- The stored form: these fields in this order. Most budgets have no caps, policy or window: they are
-- stored without the trailing nils (cmsgpack packs each value separately, so every value costs).
local function encode_row(row)
  if row.caps == nil and row.policy == nil and row.window == nil and row.periodEndMs == nil and row.tpl == nil then
    return cmsgpack.pack(row.ledgerId, row.scope, row.unit, row.allocated, row.remaining, row.reserved,
      row.spent, row.debt, row.overdraftLimit, row.over, row.status, row.hasCaps)
  end
  return cmsgpack.pack(row.ledgerId, row.scope, row.unit, row.allocated, row.remaining, row.reserved,
    row.spent, row.debt, row.overdraftLimit, row.over, row.status, row.hasCaps, row.caps, row.policy,
    row.window, row.periodStartMs, row.periodEndMs, row.tpl)
end

-- A row table from its stored form; raw is kept to skip the write when nothing changed.
local function decode_row(id, raw)
  local ledgerId, scope, unit, allocated, remaining, reserved, spent, debt, overdraftLimit, over, status,
    hasCaps, caps, policy, window, periodStartMs, periodEndMs, tpl = cmsgpack.unpack(raw)
  return { id = id, raw = raw, ledgerId = ledgerId, scope = scope, unit = unit, allocated = allocated,
    remaining = remaining, reserved = reserved, spent = spent, debt = debt, overdraftLimit = overdraftLimit,
    over = over, status = status, caps = caps, hasCaps = hasCaps, policy = policy, window = window,
    periodStartMs = periodStartMs, periodEndMs = periodEndMs, tpl = tpl }
end

-- Rows cached across a group (group.ts): GROUP.rows maps a row's key to the row as the group's
-- operations so far persisted it (false: known missing), written once at the group's end (flush_rows).
-- An operation works on the cached rows themselves, lent to it: what it changed and did not persist is
-- put back when it ends (return_lent), so an operation that stops before persist (a refusal after its
-- arithmetic, a runtime error) leaves the group's rows as a lone call leaves Redis. (A copy of every row
-- for every operation did the same at ~9 % of a pair's instructions.)
local function copy_row(row)
  return { id = row.id, raw = row.raw, ledgerId = row.ledgerId, scope = row.scope, unit = row.unit,
    allocated = row.allocated, remaining = row.remaining, reserved = row.reserved, spent = row.spent,
    debt = row.debt, overdraftLimit = row.overdraftLimit, over = row.over, status = row.status,
    caps = row.caps, hasCaps = row.hasCaps, policy = row.policy, window = row.window,
    periodStartMs = row.periodStartMs, periodEndMs = row.periodEndMs, tpl = row.tpl }
end

-- GROUP.lent: the rows lent to the running operation (GROUP.op), each holding, as lent, the fields a
-- runtime operation may change (was_*; admin calls never run in a group).
local function lend(row)
  local op = GROUP.op
  if row.lent_by == op then
    -- Lent already and not persisted since (an earlier use that stopped): as alone, what is stored.
    local copy = copy_row(row)
    copy.remaining, copy.reserved, copy.spent, copy.debt, copy.over, copy.periodStartMs, copy.periodEndMs =
      row.was_remaining, row.was_reserved, row.was_spent, row.was_debt, row.was_over, row.was_start, row.was_end
    return copy
  end
  row.was_remaining, row.was_reserved, row.was_spent, row.was_debt, row.was_over, row.was_start, row.was_end,
    row.was_dirty = row.remaining, row.reserved, row.spent, row.debt, row.over, row.periodStartMs, row.periodEndMs,
    row.dirty
  row.lent_by = op
  local count = GROUP.lent_count + 1
  GROUP.lent[count] = row
  GROUP.lent_count = count
  return row
end

-- The end of a group's operation: rows it was lent and did not persist get their fields back.
local function return_lent(group)
  local lent, op = group.lent, group.op
  for i = 1, group.lent_count do
    local row = lent[i]
    if row.lent_by == op then
      row.remaining, row.reserved, row.spent, row.debt, row.over, row.periodStartMs, row.periodEndMs, row.dirty =
        row.was_remaining, row.was_reserved, row.was_spent, row.was_debt, row.was_over, row.was_start, row.was_end,
        row.was_dirty
      row.lent_by = nil
    end
    lent[i] = false
  end
  group.lent_count = 0
  group.op = op + 1
end

-- The rows of ids, in order, with one MGET of those the group has not read yet (false where a row
-- does not exist).
local function load_rows(ids)
  local count = #ids
  if count == 0 then return {} end
  -- Presized for a subject of up to four levels (Lua 5.1 has no table.new; filled in order from 1, so
  -- # stays exact): a table grown one entry at a time is reallocated and rehashed at 1, 2 and 3.
  local rows, keys, missing = { nil, nil, nil, nil }, { nil, nil, nil, nil }, nil
  if GROUP == nil then
    for i = 1, count do keys[i] = P .. 'l:' .. ids[i] end
    local raws = redis.call('MGET', unpack(keys))
    for i = 1, count do
      local raw = raws[i]
      if raw then rows[i] = decode_row(ids[i], raw) else rows[i] = false end
    end
    return rows
  end
  -- A group's operations mostly use the same rows: each one's key is built (a new string, hashed and
  -- interned) once per group and looked up after.
  local cache, row_keys = GROUP.rows, GROUP.row_keys
  for i = 1, count do
    local id = ids[i]
    local key = row_keys[id]
    if key == nil then
      key = P .. 'l:' .. id
      row_keys[id] = key
    end
    keys[i] = key
    local cached = cache[key]
    if cached == nil then
      missing = missing or {}
      missing[#missing + 1] = i
    elseif cached then
      rows[i] = lend(cached)
    else
      rows[i] = false
    end
  end
  if missing == nil then return rows end
  local wanted = keys
  if #missing < count then
    wanted = {}
    for m, i in ipairs(missing) do wanted[m] = keys[i] end
  end
  local raws = redis.call('MGET', unpack(wanted))
  for m, i in ipairs(missing) do
    local raw = raws[m]
    if raw then
      local row = decode_row(ids[i], raw)
      cache[keys[i]] = row
      rows[i] = lend(row)
    else
      cache[keys[i]] = false
      rows[i] = false
    end
  end
  return rows
end

local function load_row(id)
  if GROUP then return load_rows({ id })[1] or nil end
  local raw = redis.call('GET', P .. 'l:' .. id)
  if not raw then return nil end
  return decode_row(id, raw)
end

local function delete_row(id)
  local key = P .. 'l:' .. id
  redis.call('DEL', key)
  if GROUP then GROUP.rows[key] = false end
end

-- The over-limit flag after funding, a limit update or a window roll: debt beyond a positive limit.
-- With a zero limit, outstanding debt is DEBT_OUTSTANDING instead (as core's overLimitAfterReconcile).
local function over_after_reconcile(row)
  if row.overdraftLimit > 0 and row.debt > row.overdraftLimit then return '1' end
  return '0'
end

-- Starts a new period when due: spent -> 0, holds and debt carry over (RESET_SPENT semantics). The hot
-- paths call it only for a row with a window.
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

-- ---- template ledgers (bounds and expiry; see README "A flood of new subjects") -------------------
-- A template-made ledger carries tpl = 'index|scope|unit|tenant' (its template's place in the list and
-- the tenant it counts against), its member in three sorted sets scored by its window end (+inf without
-- a window): tl (all), tl:t:<tenant> and tl:p:<index>. Its key gets a TTL of window end + retention
-- whenever it is written holding and owing nothing (a write clears any TTL), so an idle ledger goes
-- even if no instance runs; members past their window end are trimmed before counting.

local function tl_keys(member)
  local index, scope, unit, tenant = string.match(member, '^(%d+)|([^|]*)|([^|]*)|(.*)$')
  return P .. 'tl', P .. 'tl:t:' .. tenant, P .. 'tl:p:' .. index, scope .. '|' .. unit
end

local function tl_add(member, score)
  local all, by_tenant, by_template = tl_keys(member)
  redis.call('ZADD', all, score, member)
  redis.call('ZADD', by_tenant, score, member)
  redis.call('ZADD', by_template, score, member)
end

local function tl_forget(member)
  local all, by_tenant, by_template = tl_keys(member)
  redis.call('ZREM', all, member)
  redis.call('ZREM', by_tenant, member)
  redis.call('ZREM', by_template, member)
end

-- An admin change makes a template ledger provisioned: uncounted, listed, never expired.
local function adopt(row)
  if row.tpl == nil then return end
  tl_forget(row.tpl)
  ADOPTED = row.tpl
  row.tpl = nil
  row.dirty = true
  redis.call('SADD', P .. 'ledgers', row.id)
  redis.call('SADD', P .. 'units:' .. row.scope, row.unit)
end

-- Every counter within ±(2^53 − 1); written out (no loop over the names), as it runs for every row an
-- operation writes.
local function in_bounds(row)
  local allocated, remaining, reserved, spent, debt, limit =
    row.allocated, row.remaining, row.reserved, row.spent, row.debt, row.overdraftLimit
  return not (allocated > MAXSAFE or allocated < -MAXSAFE or remaining > MAXSAFE or remaining < -MAXSAFE
    or reserved > MAXSAFE or reserved < -MAXSAFE or spent > MAXSAFE or spent < -MAXSAFE
    or debt > MAXSAFE or debt < -MAXSAFE or limit > MAXSAFE or limit < -MAXSAFE)
end

-- Records a new row in the sets that list it (a provisioned budget) or count it (a template ledger).
local function register_new(row)
  if row.tpl ~= nil then
    tl_add(row.tpl, row.periodEndMs and S(row.periodEndMs) or '+inf')
  else
    redis.call('SADD', P .. 'ledgers', row.id)
    redis.call('SADD', P .. 'units:' .. row.scope, row.unit)
  end
  row.new = nil
end

-- An idle template ledger (holding and owing nothing) expires on its own: window end + retention,
-- relative to the script's now (the clock option's, else Redis TIME's), as every other deadline here.
local function idle_ttl(row, retention_from_now)
  if row.tpl == nil or row.periodEndMs == nil or row.reserved ~= 0 or row.debt ~= 0 then return nil end
  return S(math.max(1000, row.periodEndMs + retention_from_now))
end

-- In a group: rows persisted by its operations, installed in GROUP.rows and written by flush_rows.
local function install(rows, key, value)
  local cache, dirty = GROUP.rows, GROUP.dirty
  for r = 1, #rows do
    local row = rows[r]
    if row.new then register_new(row) end
    row.dirty = nil
    -- Persisted: the operation keeps what it changed (return_lent leaves it).
    row.lent_by = nil
    local row_key = GROUP.row_keys[row.id] or P .. 'l:' .. row.id
    cache[row_key] = row
    if dirty[row_key] == nil then dirty[#dirty + 1] = row_key end
    -- Template ledgers only: the TTL an idle one gets is relative to the now of its last writer.
    dirty[row_key] = row.tpl and (TL_RETENTION - NOW) or false
  end
  if key ~= nil then redis.call('SET', key, value) end
end

-- Writes rows back: one MSET of the rows whose stored form changed, plus key = value when given (a
-- reservation record: every write command costs a script far more than a read, so a reserve or a
-- settle writes rows and record together). In a group the rows are written once at its end instead
-- (flush_rows). Refuses, writing nothing, if any counter left the exact-integer range.
local function persist(rows, key, value)
  local total = #rows
  for r = 1, total do
    if not in_bounds(rows[r]) then return false end
  end
  if GROUP then
    install(rows, key, value)
    return true
  end
  local args, count = {}, 0
  if key ~= nil then
    args[1] = key
    args[2] = value
    count = 2
  end
  local idle
  for r = 1, total do
    local row = rows[r]
    local raw = encode_row(row)
    if raw ~= row.raw then
      args[count + 1] = P .. 'l:' .. row.id
      args[count + 2] = raw
      count = count + 2
      row.raw = raw
      if idle_ttl(row, 0) then
        idle = idle or {}
        idle[#idle + 1] = row
      end
    end
    if row.new then register_new(row) end
    row.dirty = nil
  end
  if count > 0 then redis.call('MSET', unpack(args)) end
  if idle ~= nil then
    for _, row in ipairs(idle) do
      redis.call('PEXPIRE', P .. 'l:' .. row.id, idle_ttl(row, TL_RETENTION - NOW))
    end
  end
  return true
end

-- The end of a group: every row its operations persisted, written once (one MSET of those whose
-- stored form changed), idle template ledgers given their TTL, as the last writer would have.
local function flush_rows(group)
  local cache, dirty = group.rows, group.dirty
  local args, count, idle = {}, 0, nil
  for d = 1, #dirty do
    local row_key = dirty[d]
    local row = cache[row_key]
    -- false: a template ledger deleted since (tl_trim), nothing to write.
    if row then
      local raw = encode_row(row)
      if raw ~= row.raw then
        args[count + 1] = row_key
        args[count + 2] = raw
        count = count + 2
        row.raw = raw
        -- Bounded commands (unpack's stack): a group's lazy expiries may touch thousands of rows.
        if count >= 1000 then
          redis.call('MSET', unpack(args))
          args, count = {}, 0
        end
        local ttl = dirty[row_key] and idle_ttl(row, dirty[row_key])
        if ttl then
          idle = idle or {}
          idle[#idle + 1] = { row_key, ttl }
        end
      end
    end
  end
  if count > 0 then redis.call('MSET', unpack(args)) end
  for _, expiry in ipairs(idle or NONE) do redis.call('PEXPIRE', expiry[1], expiry[2]) end
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
`;
