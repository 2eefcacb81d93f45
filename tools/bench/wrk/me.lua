-- GET /v1/me as each of the 1,000 seeded users, in random order (tools/bench/wrk/traffic.lua).
-- usage: wrk -t2 -c64 -d5s --latency -s tools/bench/wrk/me.lua http://127.0.0.1:58091
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local D, T = require("dataset"), require("traffic")

T.script("me", function()
  local reqs = {}
  for u = 1, D.USERS do
    reqs[#reqs + 1] = wrk.format("GET", "/v1/me", { ["Authorization"] = D.bearer(u) })
  end
  return reqs
end)
