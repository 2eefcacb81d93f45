-- POST /v1/teams/{teamId}/journal-entries {"content": ...}: each seeded user (all are owners
-- or members) writes to their own team.  <per_user> (default 4) bodies per user and wrk
-- thread, each 100 to 200 characters of random lowercase words (posts.lua), made once and
-- replayed in random order.  Every answer adds a row (and, in Quill, a change of the change
-- log): reseed between runs.
-- usage: wrk -t2 -c64 -d10s --latency -s tools/bench/wrk/post_entry.lua URL [-- <per_user>]
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local P, T = require("posts"), require("traffic")

T.script("post_entry", function(args)
  return P.requests(tonumber(args[1] or "4"))
end)
