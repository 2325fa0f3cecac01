-- Answers every message to the pid it was given.
local function main(to)
    local inbox = process.inbox()
    while true do
        local m = inbox:receive()
        process.send(to, "pong", m:payload():data())
    end
end

return { main = main }
