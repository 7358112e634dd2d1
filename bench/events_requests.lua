-- wrk script: replay pre-signed, unique booking events from a file, one per request.
-- Each line: path \t webhook-id \t webhook-timestamp \t webhook-signature \t body
local requests = {}
local next_index = 0

function init(args)
  local file = assert(io.open(args[1], "r"))
  for line in file:lines() do
    local path, id, ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    requests[#requests + 1] = wrk.format("POST", path, {
      ["webhook-id"] = id,
      ["webhook-timestamp"] = ts,
      ["webhook-signature"] = sig,
      ["Content-Type"] = "application/json",
    }, body)
  end
  file:close()
end

function request()
  next_index = next_index + 1
  if next_index > #requests then
    error("ran out of pre-signed events: generate more")
  end
  return requests[next_index]
end
