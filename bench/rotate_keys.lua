-- wrk script for `make bench`: every request carries the next X-API-KEY of bk_000001..bk_<N>,
-- round robin, so ratelimitd (keys imported from the same names) and nginx (limit_req keyed on
-- the header) see exactly the same sequence of header values.
--   wrk ... -s bench/rotate_keys.lua URL -- N [PREFIX]
-- N comes from the script arguments (default 100); PREFIX (default bk) names the keys
-- PREFIX_000001..PREFIX_<N>. At the end it prints one machine-readable
-- line, "BENCH key=value ...", which bench/run.sh parses instead of wrk's human-readable text.

local requests = {}
local count = 0
local next_index = 0

function init(args)
   count = tonumber(args[1] or "100")
   local prefix = args[2] or "bk"
   -- Build every request once: formatting a request in Lua per call would cost wrk more CPU
   -- than the servers spend answering it.
   for i = 1, count do
      requests[i] = wrk.format("GET", nil, { ["X-API-KEY"] = string.format("%s_%06d", prefix, i) })
   end
end

function request()
   next_index = next_index % count + 1
   return requests[next_index]
end

function done(summary, latency, _)
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d " ..
      "err_connect=%d err_read=%d err_write=%d err_timeout=%d\n",
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      e.status, e.connect, e.read, e.write, e.timeout))
end
