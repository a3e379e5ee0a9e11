-- wrk script for `make soak`: every request carries the next key of FILE (one per line; each
-- thread starts at its own offset) and answers are counted by status. At the end it prints one
-- line, "WRK key=value ...", which tests/soak/soak.sh parses.
--   wrk ... -s tests/soak/soak.lua URL -- FILE

local requests = {}
local count = 0
local next_index = 0
local threads = {}
counts = { ok = 0, unauthorized = 0, forbidden = 0, limited = 0, other4xx = 0, server = 0 }

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   for line in io.lines(args[1]) do
      count = count + 1
      requests[count] = wrk.format("GET", "/limit", { ["X-API-KEY"] = line })
   end
   next_index = (id * 997) % count
end

function request()
   next_index = next_index % count + 1
   return requests[next_index]
end

function response(status, headers, body)
   if status == 200 then counts.ok = counts.ok + 1
   elseif status == 401 then counts.unauthorized = counts.unauthorized + 1
   elseif status == 403 then counts.forbidden = counts.forbidden + 1
   elseif status == 429 then counts.limited = counts.limited + 1
   elseif status >= 500 then counts.server = counts.server + 1
   else counts.other4xx = counts.other4xx + 1 end
end

function done(summary, latency, _)
   local total = { ok = 0, unauthorized = 0, forbidden = 0, limited = 0, other4xx = 0, server = 0 }
   for _, thread in ipairs(threads) do
      for name, n in pairs(thread:get("counts")) do total[name] = total[name] + n end
   end
   local e = summary.errors
   io.write(string.format(
      "WRK requests=%d duration_us=%d ok=%d unauthorized=%d forbidden=%d limited=%d " ..
      "other4xx=%d server=%d socket_errors=%d p50_us=%d p99_us=%d\n",
      summary.requests, summary.duration, total.ok, total.unauthorized, total.forbidden,
      total.limited, total.other4xx, total.server, e.connect + e.read + e.write + e.timeout,
      latency:percentile(50), latency:percentile(99)))
end
