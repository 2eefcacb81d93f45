-- GET /v1/teams/{teamId}/journal-entries/{journalEntryId}: each seeded user reads <per_user>
-- (default 20) random entries of their own team, the whole list shuffled, so neighbouring
-- requests differ in token, team and entry.
-- usage: wrk -t2 -c64 -d5s --latency -s tools/bench/wrk/get_entry.lua URL [-- <per_user>]
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local D, T = require("dataset"), require("traffic")

T.script("get_entry", function(args)
  local per_user = tonumber(args[1] or "20")
  local reqs = {}
  for u = 1, D.USERS do
    local t = D.team_of(u)
    local prefix = "/v1/teams/" .. D.team_id(t) .. "/journal-entries/"
    for _ = 1, per_user do
      local n = D.entry_of_team(t, math.random(0, D.TEAM_ENTRIES - 1))
      reqs[#reqs + 1] = wrk.format("GET", prefix .. D.entry_id(n), { ["Authorization"] = D.bearer(u) })
    end
  end
  return reqs
end)
