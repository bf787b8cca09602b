// Lua: one budget as a Redis hash: load, window roll (bounds supplied by JavaScript), bounds check,
// changed-field writes, and the reply form of a row.

export const LEDGER_ROWS = `
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
`;
