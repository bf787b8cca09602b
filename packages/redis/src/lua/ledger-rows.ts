// Lua: one budget as a Redis hash: load, window roll (bounds supplied by JavaScript), bounds check,
// changed-field writes, and the reply form of a row.

export const LEDGER_ROWS = `
local COUNTERS = { 'allocated', 'remaining', 'reserved', 'spent', 'debt', 'overdraftLimit' }
local NUMERIC = { allocated = true, remaining = true, reserved = true, spent = true, debt = true,
  overdraftLimit = true, periodStartMs = true, periodEndMs = true }

local function row_key(id) return P .. 'l:' .. id end

local function load_row(id)
  local flat = redis.call('HGETALL', P .. 'l:' .. id)
  local count = #flat
  if count == 0 then return nil end
  -- Both tables are built with room for a row's usual fields (nil entries size the hash part
  -- without adding a field), so filling them does not rehash four or five times each.
  local loaded = { ledgerId = nil, scope = nil, unit = nil, allocated = nil, remaining = nil, reserved = nil,
    spent = nil, debt = nil, overdraftLimit = nil, over = nil, status = nil, caps = nil, hasCaps = nil,
    policy = nil, window = nil, periodStartMs = nil, periodEndMs = nil }
  local row = { id = id, loaded = loaded, ledgerId = nil, scope = nil, unit = nil, allocated = nil,
    remaining = nil, reserved = nil, spent = nil, debt = nil, overdraftLimit = nil, over = nil, status = nil,
    caps = nil, hasCaps = nil, policy = nil, window = nil, periodStartMs = nil, periodEndMs = nil }
  for i = 1, count, 2 do
    local field, value = flat[i], flat[i + 1]
    loaded[field] = value
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
  for i = 1, 6 do
    local value = row[COUNTERS[i]]
    if value > MAXSAFE or value < -MAXSAFE then return false end
  end
  return true
end

local NEW_ROW_FIELDS = { 'ledgerId', 'scope', 'unit', 'caps', 'hasCaps', 'policy', 'window' }

-- Appends field, value to the HSET arguments of a row when value is set and differs from the stored
-- string; returns the new argument count. (Inlined loops, no per-row closure: this runs on every
-- reserve and commit.)
local function put(args, count, loaded, field, value)
  if value ~= nil and loaded[field] ~= value then
    args[count + 1] = field
    args[count + 2] = value
    return count + 2
  end
  return count
end

-- Writes rows back (only the fields that changed since load); refuses, writing nothing, if any
-- counter left the exact-integer range.
local function persist(rows)
  local total = #rows
  for r = 1, total do
    if not in_bounds(rows[r]) then return false end
  end
  for r = 1, total do
    local row = rows[r]
    local loaded = row.loaded or {}
    local new = row.new
    local args = { P .. 'l:' .. row.id }
    local count = 1
    for i = 1, 6 do
      -- Compare as numbers first: formatting every counter of every row costs more than the write.
      local field = COUNTERS[i]
      local value = row[field]
      if new or tonumber(loaded[field]) ~= value then count = put(args, count, loaded, field, S(value)) end
    end
    count = put(args, count, loaded, 'over', row.over)
    count = put(args, count, loaded, 'status', row.status)
    if row.periodEndMs ~= nil then
      count = put(args, count, loaded, 'periodStartMs', S(row.periodStartMs))
      count = put(args, count, loaded, 'periodEndMs', S(row.periodEndMs))
    end
    if new then
      for i = 1, 7 do
        local field = NEW_ROW_FIELDS[i]
        count = put(args, count, loaded, field, row[field])
      end
    end
    if count > 1 then redis.call('HSET', unpack(args)) end
    if new then
      redis.call('SADD', P .. 'ledgers', row.id)
      redis.call('SADD', P .. 'units:' .. row.scope, row.unit)
      row.new = nil
    end
    for i = 2, count, 2 do loaded[args[i]] = args[i + 1] end
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
`;
