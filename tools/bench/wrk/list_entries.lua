-- GET /v1/teams/{teamId}/journal-entries?limit=<limit> (default 50): the newest page of each
-- seeded user's team, as that user, the users in random order.
-- usage: wrk -t2 -c64 -d5s --latency -s tools/bench/wrk/list_entries.lua URL [-- <limit>]
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local D, T = require("dataset"), require("traffic")

T.script("list_entries", function(args)
  local limit = tonumber(args[1] or "50")
  local reqs = {}
  for u = 1, D.USERS do
    reqs[#reqs + 1] = wrk.format("GET", "/v1/teams/" .. D.team_id(D.team_of(u)) .. "/journal-entries?limit=" .. limit,
      { ["Authorization"] = D.bearer(u) })
  end
  return reqs
end)
