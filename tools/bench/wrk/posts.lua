-- tools/bench/wrk/posts.lua - the POST requests of post_entry.lua and post_paced.lua: each
-- seeded user (all are owners or members) writes to their own team, <per_user> bodies per
-- user and wrk thread, each 100 to 200 characters of random lowercase words.
local D = require("dataset")
local P = {}

-- len characters: words of 1 to 10 letters separated by single spaces, never ending in one.
local function words(len)
  local s = {}
  local left = len
  while left > 0 do
    local w = math.min(math.random(1, 10), left)
    for _ = 1, w do s[#s + 1] = string.char(math.random(97, 122)) end
    left = left - w
    if left > 1 then s[#s + 1] = " "; left = left - 1 end
  end
  return table.concat(s)
end

function P.requests(per_user)
  local reqs = {}
  for u = 1, D.USERS do
    local path = "/v1/teams/" .. D.team_id(D.team_of(u)) .. "/journal-entries"
    local headers = { ["Authorization"] = D.bearer(u), ["Content-Type"] = "application/json" }
    for _ = 1, per_user do
      reqs[#reqs + 1] = wrk.format("POST", path, headers, '{"content":"' .. words(math.random(100, 200)) .. '"}')
    end
  end
  return reqs
end

return P
