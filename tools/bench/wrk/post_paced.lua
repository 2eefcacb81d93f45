-- The requests of post_entry.lua, paced: each connection waits <delay_ms> after an answer
-- before its next request, so that c connections send about c x 1000 / (delay_ms + latency)
-- requests a second (wrk reports the rate reached).  Used by the webhooks benchmark for a
-- steady write rate below what the worker can deliver.
-- usage: wrk -t2 -c8 -d10s --latency -s tools/bench/wrk/post_paced.lua URL -- <delay_ms> [<per_user>]
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local P, T = require("posts"), require("traffic")

local pause = 0

T.script("post_paced", function(args)
  pause = tonumber(args[1] or "0")
  return P.requests(tonumber(args[2] or "4"))
end)

-- wrk looks for delay() when it loads the script, so it is defined here, not in init().
function delay()
  return pause
end
