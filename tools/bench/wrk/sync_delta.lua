-- GET /v1/teams/{teamId}/sync?since=<cursor>&limit=<limit> (default 50): delta pages of each
-- seeded user's team, as that user, from every cursor of the team in the file SYNC_CURSORS
-- names ("<t> <cursor>" lines, made by tools/bench/sync_cursors.py: each cursor has at least
-- <limit> changes after it, so every page is full), the whole list shuffled.
-- usage: SYNC_CURSORS=cursors.tsv wrk -t2 -c64 -d5s --latency -s tools/bench/wrk/sync_delta.lua URL [-- <limit>]
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local D, T = require("dataset"), require("traffic")

T.script("sync_delta", function(args)
  local limit = tonumber(args[1] or "50")
  local path = assert(os.getenv("SYNC_CURSORS"), "sync_delta: set SYNC_CURSORS to the cursor file")
  local cursors = T.cursors(path)
  local reqs = {}
  for u = 1, D.USERS do
    local t = D.team_of(u)
    local prefix = "/v1/teams/" .. D.team_id(t) .. "/sync?limit=" .. limit .. "&since="
    for _, c in ipairs(assert(cursors[t], "sync_delta: no cursor for team " .. t)) do
      reqs[#reqs + 1] = wrk.format("GET", prefix .. c, { ["Authorization"] = D.bearer(u) })
    end
  end
  return reqs
end)
