-- (g) Login flood: POST /api/get-token/ with valid credentials of random users (argon2id
-- verification on every request).
local common = dofile(os.getenv("BANKD_BENCH_DIR") .. "/common.lua")
setup = common.setup
done = common.done
local reqs = {}
init = function()
  common.seed()
  for _, u in ipairs(common.data.users) do
    table.insert(reqs, common.post("/api/get-token/", nil,
      '{"username":"' .. u.username .. '","password":"' .. u.password .. '"}'))
  end
end
request = function() return reqs[math.random(#reqs)] end
