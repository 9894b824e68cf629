-- wrk script: POST the JSON body in $BODY with the bearer token in $TOKEN.
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

-- Counts responses that carried errors (see failures.lua); wrk runs from bench/.
dofile("failures.lua")
