-- wrk script: GET a random path from a file of request paths (one per line),
-- over keep-alive: the searches of bench/run_search.sh.
--   wrk ... -s search_paths.lua URL -- PATHS
local paths = {}

function init(args)
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
  math.randomseed(os.time())
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end
