-- GET /v1/teams/{teamId}/journal-entries/{journalEntryId} made with API keys: the requests of
-- get_entry.lua (each seeded user reads <per_user>, default 20, random entries of their own
-- team, the whole list shuffled), each sent with the API key of the user's team instead of
-- the user's session, so every request is metered (a unit of the team's quota and a row of
-- the request log).  Quill only: the keys come from tools/bench/seed_keys.sql.
-- usage: wrk -t2 -c64 -d5s --latency -s tools/bench/wrk/get_entry_key.lua URL [-- <per_user>]
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local D, T = require("dataset"), require("traffic")

T.script("get_entry_key", function(args)
  local per_user = tonumber(args[1] or "20")
  local reqs = {}
  for u = 1, D.USERS do
    local t = D.team_of(u)
    local prefix = "/v1/teams/" .. D.team_id(t) .. "/journal-entries/"
    for _ = 1, per_user do
      local n = D.entry_of_team(t, math.random(0, D.TEAM_ENTRIES - 1))
      reqs[#reqs + 1] = wrk.format("GET", prefix .. D.entry_id(n), { ["Authorization"] = D.key_bearer(t) })
    end
  end
  return reqs
end)
