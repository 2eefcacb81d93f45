-- GET /v1/teams/{teamId}/journal-entries?limit=<limit> (default 50): the newest page of each
-- seeded user's team, as that user, the users in random order.  With ENTRY_CURSORS naming a
-- file of "<t> <cursor>" lines (tools/bench/sync_cursors.py entries; "-" is the newest
-- page), every page of the user's team it lists instead: pages from across the history.
-- usage: [ENTRY_CURSORS=cursors.tsv] wrk -t2 -c64 -d5s --latency -s tools/bench/wrk/list_entries.lua URL [-- <limit>]
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local D, T = require("dataset"), require("traffic")

T.script("list_entries", function(args)
  local limit = tonumber(args[1] or "50")
  local path = os.getenv("ENTRY_CURSORS")
  local cursors = path and path ~= "" and T.cursors(path)
  local reqs = {}
  for u = 1, D.USERS do
    local t = D.team_of(u)
    local prefix = "/v1/teams/" .. D.team_id(t) .. "/journal-entries?limit=" .. limit
    for _, c in ipairs(cursors and assert(cursors[t], "list_entries: no cursor for team " .. t) or { "-" }) do
      local q = c == "-" and prefix or prefix .. "&cursor=" .. c
      reqs[#reqs + 1] = wrk.format("GET", q, { ["Authorization"] = D.bearer(u) })
    end
  end
  return reqs
end)
