-- wrk script: GET a random path from a file (one a line, e.g. /01/GTIN/21/SERIAL
-- or /88.100.1/01.GTIN.21.SERIAL), over keep-alive, counting the answers by
-- status: the run's summary line "status: 307=N ..." shows that every answer
-- was the redirect measured (run_gs1.sh checks it).
--   wrk ... -s gs1_paths.lua URL -- PATHS
local paths = {}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
  math.randomseed(os.time())
  codes = {}
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end

function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
end

function done(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("codes")) do
      all[code] = (all[code] or 0) + n
    end
  end
  local parts = {}
  for code, n in pairs(all) do
    parts[#parts + 1] = code .. "=" .. n
  end
  table.sort(parts)
  io.write("status: " .. table.concat(parts, " ") .. "\n")
end
