-- (d) GET /api/accounts/{id}/ of a random account, with its owner's token.
local common = dofile(os.getenv("BANKD_BENCH_DIR") .. "/common.lua")
setup = common.setup
done = common.done
local reqs = {}
init = function()
  common.seed()
  for _, a in ipairs(common.data.accounts) do
    table.insert(reqs, common.get("/api/accounts/" .. a.id .. "/", a.token))
  end
end
request = function() return reqs[math.random(#reqs)] end
