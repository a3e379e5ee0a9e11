-- wrk script for bench/run.sh's cluster scenario: every request carries the next X-API-KEY of
-- the lines of FILE, round robin. Those keys carry their user's route (rl_<route>_...), which is
-- what HAProxy routes by; the bk_ names of rotate_keys.lua carry none.
--   wrk ... -s bench/key_file.lua URL -- FILE
-- The closing BENCH line is rotate_keys.lua's done(), so bench/run.sh parses both alike.

dofile("bench/rotate_keys.lua")  -- done(); init() and request() are replaced below

local requests = {}
local count = 0
local next_index = 0

function init(args)
   -- Every request built once, as in rotate_keys.lua.
   for key in io.lines(args[1]) do
      count = count + 1
      requests[count] = wrk.format("GET", nil, { ["X-API-KEY"] = key })
   end
end

function request()
   next_index = next_index % count + 1
   return requests[next_index]
end
