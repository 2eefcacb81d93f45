-- tools/bench/wrk/dataset.lua - the benchmark data set (../shared/peers/SEED.md, seeded into
-- Quill by tools/bench/seed_quill.sql and seed_entries.sql), computed rather than read: the ids
-- of users, teams and entries, who belongs where, and the bearer tokens.  Loaded by the wrk
-- scripts beside it; the same numbers drive Quill and the Fastify peer.
local D = {}

D.USERS = 1000          -- u = 1..1000, one session each
D.TEAMS = 100           -- t = 1..100
D.TEAM_SIZE = 10        -- team t holds users 10(t-1)+1 .. 10t
D.TEAM_ENTRIES = 1000   -- entries per team; the i-th (0-based, oldest first) of team t is n = 100 i + t

local T0 = 1767225600000 -- 2026-01-01T00:00:00Z in ms; every number here stays below 2^53

-- width lowercase hex digits of a non-negative integer, by repeated division (wrk's LuaJIT
-- numbers are doubles; "%x" would not be safe above 32 bits).
local DIGITS = "0123456789abcdef"
local function hex(v, width)
  local out = {}
  for k = width, 1, -1 do
    local d = v % 16
    out[k] = DIGITS:sub(d + 1, d + 1)
    v = (v - d) / 16
  end
  assert(v == 0, "value too wide for its field")
  return table.concat(out)
end

-- The data set's ids: ms (12 hex digits), "7", kind (3), "8", n (15), hyphenated 8-4-4-4-12.
-- kind: 1 user, 2 team, 3 journal entry.
function D.id(ms, kind, n)
  local h = hex(ms, 12) .. "7" .. hex(kind, 3) .. "8" .. hex(n, 15)
  return h:sub(1, 8) .. "-" .. h:sub(9, 12) .. "-" .. h:sub(13, 16) .. "-" .. h:sub(17, 20) .. "-" .. h:sub(21)
end

function D.user_id(u) return D.id(T0 + 1000 * u, 1, u) end
function D.team_id(t) return D.id(T0 + 3600000 + 1000 * t, 2, t) end
function D.entry_id(n) return D.id(T0 + 86400000 + 30000 * n + (7919 * n) % 1000, 3, n) end

function D.team_of(u) return (u - 1 - (u - 1) % D.TEAM_SIZE) / D.TEAM_SIZE + 1 end
function D.entry_of_team(t, i) return D.TEAMS * i + t end
function D.token(u) return "peer-token-" .. u end
function D.bearer(u) return "Bearer " .. D.token(u) end
-- Quill's own addition (tools/bench/seed_keys.sql): one API key (role member) per team.
function D.key_token(t) return "peer-key-" .. t end
function D.key_bearer(t) return "Bearer " .. D.key_token(t) end

-- The worked examples of SEED.md: a wrong formula fails here, before any request is sent.
assert(D.user_id(1) == "019b76da-abe8-7001-8000-000000000001")
assert(D.user_id(1000) == "019b76e9-ea40-7001-8000-0000000003e8")
assert(D.team_id(1) == "019b7711-9a68-7002-8000-000000000001")
assert(D.team_id(100) == "019b7713-1d20-7002-8000-000000000064")
assert(D.entry_id(1) == "019b7c01-7cc7-7003-8000-000000000001")
assert(D.entry_id(100000) == "019c2ed1-6200-7003-8000-0000000186a0")
assert(D.team_of(1) == 1 and D.team_of(10) == 1 and D.team_of(11) == 2 and D.team_of(1000) == 100)

return D
