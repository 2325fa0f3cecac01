-- Answers every "ping" with "pong" until told to stop: a process that must
-- carry on while others are ended.
local function main(parent)
    local inbox = process.inbox()
    while true do
        local msg = inbox:receive()
        if msg:topic() == "stop" then return "stopped" end
        process.send(parent, "pong", msg:payload():data())
    end
end

return { main = main }
