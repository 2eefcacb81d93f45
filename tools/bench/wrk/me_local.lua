-- GET /v1/me over the 1,000 seeded tokens (peer-token-<u>), for runs without ../shared/peers.
local i = 0
function request()
  i = i % 1000 + 1
  return wrk.format("GET", "/v1/me", { ["Authorization"] = "Bearer peer-token-" .. i })
end
