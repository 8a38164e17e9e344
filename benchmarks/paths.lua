-- wrk script: fetch the paths listed in a file (argument 1), each thread taking every
-- Nth one (N = argument 2, the thread count), so each path is requested once per pass.
-- Prints "wrapped" at the end when some thread ran out of paths and began a second pass.
local threads = {}
local count = 0

function setup(thread)
  thread:set("id", count)
  count = count + 1
  table.insert(threads, thread)
end

function init(args)
  paths = {}
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
  step = tonumber(args[2])
  index = id + 1
  wrapped = 0
  headers = {}
  if args[3] then
    headers["Accept-Encoding"] = args[3]
  end
end

function request()
  if index > #paths then
    index = id + 1
    wrapped = 1
  end
  local path = paths[index]
  index = index + step
  return wrk.format("GET", path, headers)
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    if thread:get("wrapped") == 1 then
      io.write("wrapped\n")
      return
    end
  end
end
