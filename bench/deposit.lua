-- (c) Deposits of 0.01 into random accounts, each with its owner's token.
local common = dofile(os.getenv("BANKD_BENCH_DIR") .. "/common.lua")
setup = common.setup
done = common.done
local reqs = {}
init = function()
  common.seed()
  for _, a in ipairs(common.data.accounts) do
    table.insert(reqs, common.post("/api/accounts/" .. a.id .. "/deposit/", a.token, '{"amount":"0.01"}'))
  end
end
request = function() return reqs[math.random(#reqs)] end
