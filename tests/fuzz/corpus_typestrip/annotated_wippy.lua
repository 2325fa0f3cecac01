local process = require("process")
type Stats = {sent: integer, recv: integer}
local function main(): integer
  local stats: Stats = {sent = 0, recv = 0}
  local inbox = process.inbox()
  while true do
    local msg = inbox:receive()
    stats.recv = stats.recv + 1
    if msg:topic() == "stop" then break end
  end
  return 0
end
return {main = main}
