-- Scale run: POST /api/accounts/{id}/statements/ for one month, one account.
-- BANKD_BENCH_ACCOUNT, BANKD_BENCH_START, BANKD_BENCH_END; the first user's token.
local common = dofile(os.getenv("BANKD_BENCH_DIR") .. "/common.lua")
setup = common.setup
done = common.done
local req
init = function()
  local token = common.data.users[1].token
  req = common.post("/api/accounts/" .. os.getenv("BANKD_BENCH_ACCOUNT") .. "/statements/", token,
    '{"start_date":"' .. os.getenv("BANKD_BENCH_START") .. '","end_date":"' .. os.getenv("BANKD_BENCH_END") .. '"}')
end
request = function() return req end
