-- wrk script: GET /api/handles/{random identifier} from a query file, over
-- keep-alive. The same script drives idnode and the nginx anchor.
--   wrk ... -s http_random.lua URL -- QUERIES [batch N]
-- With "batch N": POST /api/resolve with N random identifiers per request
-- (100 bodies prepared up front and cycled, so that Lua is not the limit).
local ids = {}
local mode, nbatch = "get", 0
local bodies = {}
local i = 0

function init(args)
  for line in io.lines(args[1]) do
    ids[#ids + 1] = line
  end
  if args[2] == "batch" then
    mode, nbatch = "batch", tonumber(args[3] or "1000")
    math.randomseed(os.time())
    for b = 1, 100 do
      local parts = {}
      for k = 1, nbatch do
        parts[k] = '"' .. ids[math.random(#ids)] .. '"'
      end
      bodies[b] = '{"handles":[' .. table.concat(parts, ",") .. ']}'
    end
  end
end

function request()
  i = i + 1
  if mode == "batch" then
    return wrk.format("POST", "/api/resolve", {["Content-Type"] = "application/json"},
                      bodies[(i % #bodies) + 1])
  end
  return wrk.format("GET", "/api/handles/" .. ids[math.random(#ids)])
end
