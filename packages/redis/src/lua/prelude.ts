// Lua prelude of every operation: per-call state (prefix, now, window-bound hints), exact-integer
// formatting, ids and the reply encoding.
//
// Argument header of every call (no KEYS: every key lives under the prefix, see README; on Redis
// Cluster KEYS[1] names a key of the call's hash tag, for routing only):
//   ARGV[1] key prefix · ARGV[2] now in ms ('' = Redis TIME) · ARGV[3] window-bound hints (JSON) ·
//   ARGV[4] the ledger's settings, comma-separated: reservation retention ms, most reservations per
//   tenant, idempotency ms, reservation replay window ms, most template ledgers, most per tenant,
//   template ledger retention ms, Redis Cluster (1) or one Redis (0), ledger events on (1) or off (0),
//   the connection's database number (one argument, parsed only when it changes).
//   Operation arguments follow; A(i) reads ARGV[4 + i].
//
// Amounts: Lua numbers are doubles, exact for integers up to 2^53 − 1. Counters are stored as decimal
// strings written with %.0f (never tostring, which rounds to 14 digits), and replies carry them as
// strings inside JSON, never as JSON numbers (cjson encodes with 14 significant digits).

export const PRELUDE = `
local MAXSAFE = 9007199254740991
-- Per-call state, set by begin(): the library is loaded once (as a Redis function library) and its
-- functions are reused, so nothing here may read ARGV at load time.
local ARGS, P, SETTINGS, RETENTION, MAX_PER_TENANT, IDEM_MS, WINDOW, NOW
-- NOW as text (now_text()): formatted once per call, or once per group sharing one Redis TIME.
local NOW_TEXT
local MAX_TL, MAX_TL_TENANT, TL_RETENTION
local HINTS, NEEDS, NEED_COUNT, TEMPLATES
-- Redis Cluster (P carries a hash tag): template ledgers are admitted by the global tag's census
-- (census.ts). ADMITTED: member -> when the census admitted it; ADMIT: members this call still needs
-- admitted (answered with the window needs, before writing); ADOPTED: members that stopped counting.
local CLUSTER, ADMITTED, ADMIT, ADOPTED
-- Ledger events on: the reservations this call expired go back in its reply (EXPIRED, see
-- reservations.ts expire_one), so the caller emits one reservation.expired each. Off: nothing is kept.
local EVENTS, EXPIRED
-- Per database, per key prefix: no member of the prefix's due set scores before this (see due_at in
-- reservations.ts). One Lua state serves every database of the server, so the database is part of it.
local NEXT_DUE_BY_DB, NEXT_DUE, DB = {}, nil, nil
-- Calls this copy of the library has run: 1 on every call in eval mode (the library is part of each
-- script), where remembering anything between calls is pointless.
local CALLS = 0

-- Shared by calls without hints (most): never written, so no call pays for empty tables.
local NONE = {}

local function A(i) return ARGS[4 + i] end
-- %d (a C long) prints an integer within ±2^53 exactly as %.0f does, at a fraction of the cost (%.0f
-- goes through glibc's multi-precision float printing). Anything else (fractions, -0, NaN, ±inf,
-- beyond 2^53) keeps %.0f. (Library code cannot cache string.format in a local: a function library
-- sees no standard globals while it loads.)
local function S(n)
  if n % 1 == 0 and n <= MAXSAFE and n >= -MAXSAFE and (n ~= 0 or 1 / n > 0) then
    return string.format('%d', n)
  end
  return string.format('%.0f', n)
end
local function now_text()
  if NOW_TEXT == nil then NOW_TEXT = S(NOW) end
  return NOW_TEXT
end
-- A time (a deadline from now, a TTL) as text, formatted once per group (its operations share now and
-- mostly their TTLs); texts: the group's, or nil alone.
local function time_text(n, texts)
  -- NaN is no table key, and -0 would share 0's.
  if texts == nil or n ~= n or n == 0 then return S(n) end
  local text = texts[n]
  if text == nil then
    text = S(n)
    texts[n] = text
  end
  return text
end
local function opt(value) if value == nil or value == '' then return nil end return value end

local function redis_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The group this call runs in (group.ts): { now = its one Redis TIME, tenants = settings read so far },
-- nil for a call of its own.
local GROUP

local function begin(args, group)
  CALLS = CALLS + 1
  GROUP = group
  ARGS = args
  P = args[1]
  -- A group's row keys (ledger-rows.ts load_rows) are its prefix's: one per group (a ledger's queue per
  -- hash tag), started afresh should that ever change.
  if group ~= nil and group.keys_of ~= P then group.row_keys, group.keys_of = {}, P end
  -- Parsed once per settings text: a function library keeps its locals between calls, and Lua
  -- strings are interned, so the comparison is one pointer check.
  if args[4] ~= SETTINGS then
    SETTINGS = args[4]
    local retention, per_tenant, idem, window, max_tl, max_tl_tenant, tl_retention, cluster, events, db =
      string.match(SETTINGS, '^(%d+),(%d+),(%d+),(%d+),(%d+),(%d+),(%d+),([01]),([01]),(%d+)$')
    RETENTION = tonumber(retention)
    MAX_PER_TENANT = tonumber(per_tenant)
    IDEM_MS = tonumber(idem)
    WINDOW = tonumber(window)
    MAX_TL = tonumber(max_tl)
    MAX_TL_TENANT = tonumber(max_tl_tenant)
    TL_RETENTION = tonumber(tl_retention)
    CLUSTER = cluster == '1'
    EVENTS = events == '1'
    DB = db
    NEXT_DUE = NEXT_DUE_BY_DB[DB] or {}
    NEXT_DUE_BY_DB[DB] = NEXT_DUE
  end
  NOW_TEXT = nil
  if args[2] ~= '' then
    NOW = tonumber(args[2])
  else
    if group == nil then
      NOW = redis_now()
    else
      if group.now == nil then
        group.now = redis_now()
        group.now_text = S(group.now)
      end
      NOW = group.now
      NOW_TEXT = group.now_text
    end
  end
  -- Window bounds come from JavaScript (IANA zones need Intl). A missing or stale hint is recorded
  -- and the script answers {need = [...]} before writing anything; the caller retries with bounds.
  -- A hint whose name starts with @ is a census admission (a window is a JSON object: starts with {).
  HINTS, ADMITTED = NONE, NONE
  if args[3] ~= '' then
    HINTS, ADMITTED = {}, {}
    for _, hint in ipairs(cjson.decode(args[3])) do
      if string.sub(hint[1], 1, 1) == '@' then
        ADMITTED[string.sub(hint[1], 2)] = tonumber(hint[2])
      else
        HINTS[hint[1]] = { tonumber(hint[2]), tonumber(hint[3]) }
      end
    end
  end
  NEEDS, NEED_COUNT = nil, 0
  TEMPLATES = nil
  ADMIT, ADOPTED = nil, nil
  EXPIRED = nil
end

local function pad(n)
  local s = S(n)
  if #s < 10 then s = string.rep('0', 10 - #s) .. s end
  return s
end

-- On Redis Cluster each hash tag counts on its own: its ids carry the tag (led_<tag>.0000000001).
local function next_id(kind)
  if CLUSTER then kind = kind .. string.match(P, '{([^}]*)}$') .. '.' end
  return kind .. pad(redis.call('INCR', P .. 'seq'))
end

local function bounds(window)
  local hint = HINTS[window]
  if hint ~= nil and hint[1] <= NOW and NOW < hint[2] then return hint[1], hint[2] end
  NEEDS = NEEDS or {}
  if not NEEDS[window] then NEEDS[window] = true; NEED_COUNT = NEED_COUNT + 1 end
  return nil
end
local function need_reply()
  local list = {}
  for window in pairs(NEEDS or NONE) do list[#list + 1] = window end
  return cjson.encode({ need = list, admit = ADMIT, now = now_text(), expired = EXPIRED })
end

local function reply(outcome)
  outcome.now = now_text()
  outcome.adopted = ADOPTED
  outcome.expired = EXPIRED
  return cjson.encode(outcome)
end

-- A fresh outcome (JSON text, stored as is for replays) in the reply as a JSON value: spliced in, not
-- encoded again as a string (escaping every quote costs a script more than the rest of its reply).
local function reply_outcome(encoded)
  if ADOPTED == nil and EXPIRED == nil then return '{"now":"' .. now_text() .. '","outcome":' .. encoded .. '}' end
  local rest = cjson.encode({ now = now_text(), adopted = ADOPTED, expired = EXPIRED })
  return string.sub(rest, 1, -2) .. ',"outcome":' .. encoded .. '}'
end

local function split(text, separator)
  local parts = {}
  for part in string.gmatch(text, '[^' .. separator .. ']+') do parts[#parts + 1] = part end
  return parts
end

-- The arguments from A(from) on (ARGS has no holes), allocated at their size once.
local function list_args(from)
  return { unpack(ARGS, 4 + from, #ARGS) }
end

local MAX_LAZY_EXPIRIES = 1000
`;
