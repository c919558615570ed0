-- (b) Random transfers of 0.01 between random accounts, each with its source owner's token.
-- (g) The same script runs beside the login flood.
local common = dofile(os.getenv("BANKD_BENCH_DIR") .. "/common.lua")
setup = common.setup
done = common.done
local reqs = {}
init = function()
  common.seed()
  local accounts = common.data.accounts
  for _, src in ipairs(accounts) do
    for _, dst in ipairs(accounts) do
      if src.id ~= dst.id then
        table.insert(reqs, common.post("/api/accounts/" .. src.id .. "/transfer/", src.token,
          '{"to_account_number":"' .. dst.number .. '","amount":"0.01"}'))
      end
    end
  end
end
request = function() return reqs[math.random(#reqs)] end
