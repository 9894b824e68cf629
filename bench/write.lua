-- wrk script for S5: commentOnTask on a random task of 1..$TASKS, with the bearer token in $TOKEN.
-- (A comment is a versioned write: one transaction with the update, history and audit rows.)
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

-- Unpadded URL-safe base64, as Sangam's global ids are.
local function b64(data)
  local bits = data:gsub(".", function(c)
    local byte, out = c:byte(), ""
    for i = 8, 1, -1 do
      out = out .. ((byte % 2 ^ i - byte % 2 ^ (i - 1) > 0) and "1" or "0")
    end
    return out
  end)
  -- Pad with zero bits to a whole number of six-bit groups (no "=" padding).
  bits = bits .. string.rep("0", (6 - #bits % 6) % 6)
  return (bits:gsub("%d%d%d%d%d%d", function(six)
    local n = 0
    for i = 1, 6 do n = n + (six:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return alphabet:sub(n + 1, n + 1)
  end))
end

local token = os.getenv("TOKEN")
-- $TASKS: N (tasks 1..N) or @FILE (the task ids in FILE, one per line: a state's tasks are not
-- numbered contiguously once the seed interleaves states).
local tasks, ids = os.getenv("TASKS"), nil
if tasks:sub(1, 1) == "@" then
  ids = {}
  for line in io.lines(tasks:sub(2)) do ids[#ids + 1] = line end
else
  tasks = tonumber(tasks)
end
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }

request = function()
  local n = ids and ids[math.random(1, #ids)] or math.random(1, tasks)
  local id = b64("Task:" .. n)
  local body = '{"query":"mutation($id: ID!) { commentOnTask(id: $id, text: \\"checked on site\\") { task { version } } }",'
    .. '"variables":{"id":"' .. id .. '"}}'
  return wrk.format("POST", "/graphql", headers, body)
end

-- Counts responses that carried errors (see failures.lua); wrk runs from bench/.
dofile("failures.lua")
