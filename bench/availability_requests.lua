-- wrk script: replay pre-signed availability GETs from a file, one per request (wrapping around).
-- Each line: path?query \t webhook-id \t webhook-timestamp \t webhook-signature
-- A GET's signature covers "GET {path}?{query}"; ids are not single-use, so wrapping around is honest.
local requests = {}
local next_index = 0

function init(args)
  local file = assert(io.open(args[1], "r"))
  for line in file:lines() do
    local path, id, ts, sig = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$")
    requests[#requests + 1] = wrk.format("GET", path, {
      ["webhook-id"] = id,
      ["webhook-timestamp"] = ts,
      ["webhook-signature"] = sig,
    })
  end
  file:close()
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end
