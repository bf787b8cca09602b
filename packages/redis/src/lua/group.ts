// Lua: group commit. Operations queued in the same event-loop turn (group-commit.ts) run in ONE FCALL,
// one after another, which pays once what every call pays (dispatch, RESP, the Lua call, TIME, the
// MULTI/EXEC around its writes, the reply's syscalls) instead of once per operation.
//
// Arguments: <operation name> <argument count> <its arguments>, repeated; a negative count -n stands
// for the four header arguments of the operation before, then n of its own. The answer: one reply per
// operation, in order. Each operation runs exactly as it would alone (its own lazy expiry, checks and
// writes; a refusal is its own error record). A runtime error (a redis.call that failed, e.g. OOM) is
// caught and answered as that operation's reply '!<message>', so its neighbours still run and answer;
// the operation itself has written what it wrote before the error, exactly as a lone call would.

export const GROUP = `
-- name -> function(args, group): every operation's body (script.ts registers them).
local OPS = {}

-- What the operations of a group share: one Redis TIME (for those without a clock of their own),
-- each tenant's settings once read (no runtime operation writes them; setTenant is never grouped), and
-- the budget rows read or persisted so far, written once at the end (ledger-rows.ts, flush_rows).
local function run_group(args)
  local replies, i, n = {}, 1, #args
  local group = { tenants = {}, rows = {}, dirty = {}, lent = {}, lent_count = 0, op = 1,
    row_ids = {}, due_args = {}, due_count = 0,
    texts = {} }
  local header
  while i <= n do
    local name, count = args[i], tonumber(args[i + 1])
    -- Built by constructors, so each table is allocated at its size once (filled one by one, a table
    -- of 20 arguments is reallocated and rehashed 6 times on the way).
    local op_args
    if count < 0 then
      -- The header of the operation before (script.ts runGroup), then -count arguments of its own.
      count = -count
      op_args = { header[1], header[2], header[3], header[4], unpack(args, i + 2, i + 1 + count) }
    else
      op_args = { unpack(args, i + 2, i + 1 + count) }
      header = op_args
    end
    i = i + 2 + count
    local ok, result = pcall(OPS[name], op_args, group)
    return_lent(group)
    if not ok then
      if type(result) == 'table' then result = result.err end
      result = '!' .. tostring(result)
    elseif type(result) ~= 'string' then
      -- Every runtime operation answers text; anything else would shift its neighbours' replies.
      result = '!' .. name .. ' answered no text'
    end
    replies[#replies + 1] = result
  end
  flush_rows(group)
  flush_due(group)
  return replies
end
`;
