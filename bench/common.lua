-- Shared by every wrk script in bench/: loads the data file written by bench.py (users,
-- tokens, accounts), seeds each thread's random numbers, and prints one machine-readable
-- result line from done() that bench.py parses:
--   BENCH_RESULT {"requests":..,"duration_us":..,"rps":..,"p50_us":..,"p99_us":..,"non2xx":..}
-- wrk's "Non-2xx or 3xx responses" line is the same number as summary.errors.status.
local M = {}

local data_path = os.getenv("BANKD_BENCH_DATA")
M.data = data_path and dofile(data_path) or { users = {}, accounts = {} }

local threads = {}
local next_thread_id = 1

function M.setup(thread)
  thread:set("thread_id", next_thread_id)
  next_thread_id = next_thread_id + 1
  table.insert(threads, thread)
end

function M.seed()
  local id = thread_id or 0
  math.randomseed(os.time() * 1000 + id * 7919)
  -- LuaJIT's first draws after seeding are poorly mixed.
  for _ = 1, 10 do math.random() end
end

function M.json_headers(token)
  local headers = { ["Content-Type"] = "application/json" }
  if token then headers["Authorization"] = "Token " .. token end
  return headers
end

-- A request built once, reused: wrk then spends no time formatting on the hot path.
function M.post(path, token, body)
  return wrk.format("POST", path, M.json_headers(token), body)
end

function M.get(path, token)
  local headers = {}
  if token then headers["Authorization"] = "Token " .. token end
  return wrk.format("GET", path, headers)
end

function M.done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"rps":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f,"non2xx":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration, summary.requests / seconds,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean,
    e.status, e.connect, e.read, e.write, e.timeout))
end

return M
