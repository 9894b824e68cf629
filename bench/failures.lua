-- Shared by the wrk scripts (loaded with dofile; run.sh runs wrk from bench/): count responses
-- that are not clean GraphQL data (an HTTP error or an "errors" entry), so a cell that measured
-- refusals instead of answers says so. run.sh reads the "failed responses: N" line.
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
failed = 0
function response(status, headers, body)
  if status ~= 200 or body:find('"errors"', 1, true) then
    failed = failed + 1
  end
end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do
    n = n + (t:get("failed") or 0)
  end
  io.write(string.format("failed responses: %d\n", n))
end
