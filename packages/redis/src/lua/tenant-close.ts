// Lua: closing a tenant (GOV Rule 1) in one atomic step. The settlement scripts refuse every call on a
// CLOSED tenant's reservations, so its live holds can only be returned here, in the same call as the
// flip: no reserve through any server can land between the two, and none after (reserve reads the
// status in its own script). No runtime operation reaches this script.

/**
 * closeTenant: A1 tenant, A2.. field/value pairs (its settings, status CLOSED; they replace the old ones
 * as setTenant does). Releases each of the tenant's live reservations, and expires the ones already past
 * expiry + grace that no sweep has reached yet. Replies `released`: per reservation its id, unit, amount,
 * the scopes it held on and their balances after.
 */
export const CLOSE_TENANT = `
local tenant = A(1)
local key = P .. 'tenant:' .. tenant
redis.call('DEL', key)
local pairs_list = list_args(2)
if #pairs_list > 0 then redis.call('HSET', key, unpack(pairs_list)) end
local released = {}
-- Every retained reservation of the prefix (or cluster slot) is on the due index, or still on the live
-- index of the layout before it until a sweep moves it (reads.ts SWEEP): there is no index of a tenant's
-- live holds, and the tenant's own counts are not trusted to skip the walk.
local ids = redis.call('ZRANGE', P .. 'due', 0, -1)
for _, id in ipairs(redis.call('ZRANGE', P .. 'expiry', 0, -1)) do ids[#ids + 1] = id end
for _, id in ipairs(ids) do
  -- Tenant and status lead the stored record (encode_rsv): read just those, decode only the matches
  -- (a third of the walk's time; a layout change fails the conformance suite's tenant-close tests).
  local raw = redis.call('GET', rsv_key(id))
  local owner, status
  if raw then
    local _
    _, owner, status = cmsgpack.unpack_limit(raw, 2)
  end
  local rsv = owner == tenant and status == 'ACTIVE' and load_rsv(id) or nil
  if rsv ~= nil then
    if NOW > rsv.expiresAtMs + rsv.graceMs then
      expire_one(rsv)
    else
      -- As expire_one: returning a hold commutes with a window roll, so the rows are not rolled.
      local rows = rsv_rows(rsv)
      local scopes = {}
      for i, row in ipairs(rows) do
        row.reserved = row.reserved - rsv.estimate
        row.remaining = row.remaining + rsv.estimate
        scopes[i] = row.scope
      end
      end_rsv(rsv, 'RELEASED', {}, rows)
      released[#released + 1] = { id = id, unit = rsv.unit, amount = S(rsv.estimate), scopes = scopes,
        bal = rows_out(rows) }
    end
  end
end
return reply({ released = released })
`;
