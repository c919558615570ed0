-- (e) GET /api/transactions/?page_size=20 (first page, all of a random user's accounts).
-- BANKD_BENCH_QUERY replaces the query string (the scale run uses ?account=<id>&page=N).
local common = dofile(os.getenv("BANKD_BENCH_DIR") .. "/common.lua")
setup = common.setup
done = common.done
local reqs = {}
init = function()
  common.seed()
  local query = os.getenv("BANKD_BENCH_QUERY") or "page_size=20"
  for _, u in ipairs(common.data.users) do
    table.insert(reqs, common.get("/api/transactions/?" .. query, u.token))
  end
end
request = function() return reqs[math.random(#reqs)] end
