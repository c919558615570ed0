-- (f) Hot account: every transfer goes INTO the first account, from random other accounts.
local common = dofile(os.getenv("BANKD_BENCH_DIR") .. "/common.lua")
setup = common.setup
done = common.done
local reqs = {}
init = function()
  common.seed()
  local accounts = common.data.accounts
  local hot = accounts[1]
  for i = 2, #accounts do
    local src = accounts[i]
    table.insert(reqs, common.post("/api/accounts/" .. src.id .. "/transfer/", src.token,
      '{"to_account_number":"' .. hot.number .. '","amount":"0.01"}'))
  end
end
request = function() return reqs[math.random(#reqs)] end
