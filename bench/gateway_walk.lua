-- wrk script: GET /api/handles/{identifier}, walking a query file in order
-- from a random start, so that a short run asks each identifier once (a cold
-- cache: every request a miss resolved through the hierarchy).
--   wrk ... -s gateway_walk.lua URL -- QUERIES
local ids = {}
local i = 0

function init(args)
  for line in io.lines(args[1]) do
    ids[#ids + 1] = line
  end
  math.randomseed(os.time())
  i = math.random(#ids)
end

function request()
  i = i % #ids + 1
  return wrk.format("GET", "/api/handles/" .. ids[i])
end
