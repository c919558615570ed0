-- (a) GET /healthz: the HTTP ceiling of this server on this machine.
local common = dofile(os.getenv("BANKD_BENCH_DIR") .. "/common.lua")
setup = common.setup
done = common.done
local req
init = function() req = common.get("/healthz") end
request = function() return req end
