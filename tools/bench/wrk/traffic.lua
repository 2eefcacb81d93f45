-- tools/bench/wrk/traffic.lua - what every route script here shares: each wrk thread builds
-- its requests once, in init(), shuffles them with a random generator seeded by its thread
-- number (runs repeat; the two threads differ), then replays them in a cycle, so a request
-- costs one table lookup.  done() prints, after wrk's report, the line tools/bench/bench.sh
-- reads:
--   result script=<name> requests_per_s=<n> p50_ms=<x> p99_ms=<x> requests=<n> non_2xx_3xx=<n> socket_errors=<n>
-- non_2xx_3xx is wrk's own count of answers with a status above 399.  With BENCH_CHECK=1 the
-- scripts also look at every status (which costs wrk a Lua call per answer, so bench.sh does
-- it in the warm-up only) and add checked=<n> non_2xx=<n>, plus a line showing the first
-- answer outside 200..299.
local T = {}

local CHECK = os.getenv("BENCH_CHECK") == "1"
local threads = {}

-- shuffle(list): Fisher-Yates with math.random, in place.
function T.shuffle(list)
  for k = #list, 2, -1 do
    local j = math.random(k)
    list[k], list[j] = list[j], list[k]
  end
  return list
end

-- cursors(path): the "<t> <cursor>" lines of the file path names (made by
-- tools/bench/sync_cursors.py) as a table of each team's cursors, in file order.
function T.cursors(path)
  local cursors = {}
  for line in assert(io.open(path)):lines() do
    local t, c = line:match("^(%d+)%s+(%S+)$")
    if t then
      t = tonumber(t)
      cursors[t] = cursors[t] or {}
      table.insert(cursors[t], c)
    end
  end
  return cursors
end

-- script(name, build): build(args) returns the list of requests (wrk.format strings) of
-- one thread; this wires setup, init, request, response and done around it.
function T.script(name, build)
  function setup(thread)
    threads[#threads + 1] = thread
    thread:set("thread_no", #threads)
    thread:set("checked", 0)
    thread:set("bad", 0)
  end

  function init(args)
    math.randomseed(7001 * (thread_no or 1))
    local reqs = T.shuffle(build(args))
    assert(#reqs > 0, name .. ": no requests")
    local k, n = 0, #reqs
    function request()
      k = k + 1
      if k > n then k = 1 end
      return reqs[k]
    end
  end

  if CHECK then
    function response(status, headers, body)
      checked = checked + 1
      if status < 200 or status > 299 then
        bad = bad + 1
        if bad == 1 then first_bad = status .. " " .. (body or ""):sub(1, 200):gsub("%s+", " ") end
      end
    end
  end

  function done(summary, latency, requests)
    local e = summary.errors
    local line = string.format(
      "result script=%s requests_per_s=%.0f p50_ms=%.2f p99_ms=%.2f requests=%d non_2xx_3xx=%d socket_errors=%d",
      name, summary.requests * 1e6 / summary.duration, latency:percentile(50) / 1000,
      latency:percentile(99) / 1000, summary.requests, e.status, e.connect + e.read + e.write + e.timeout)
    if CHECK then
      local checked, bad, sample = 0, 0, nil
      for _, t in ipairs(threads) do
        checked, bad = checked + t:get("checked"), bad + t:get("bad")
        sample = sample or t:get("first_bad")
      end
      line = line .. string.format(" checked=%d non_2xx=%d", checked, bad)
      if sample then io.write("first_non_2xx ", sample, "\n") end
    end
    io.write(line, "\n")
  end
end

return T
