-- POST /v1/auth/login for the users tools/bench/bench.sh signs up (bench-login-<i>@example.com,
-- i = 1..N, all with the same password), round-robin.
-- usage: wrk -t2 -c16 -d5s -s login.lua URL -- <N>
local n = 0
local i = 0
function init(args)
  n = tonumber(args[1] or "64")
end
function request()
  i = i % n + 1
  local body = '{"email":"bench-login-' .. i .. '@example.com","password":"bench password 123"}'
  return wrk.format("POST", "/v1/auth/login", { ["Content-Type"] = "application/json" }, body)
end
