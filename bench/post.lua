-- wrk script: POST the JSON body in $BODY with the bearer token in $TOKEN.
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

-- Count responses that are not clean GraphQL data (HTTP error or an "errors" entry), so a
-- cell that measured refusals instead of answers says so.
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
