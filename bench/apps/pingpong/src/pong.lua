-- Answers every "ping" with "pong" to its sender; "stop" ends it.
local function main()
    local inbox = process.inbox()
    while true do
        local m = inbox:receive()
        local topic = m:topic()
        if topic == "ping" then
            process.send(m:from(), "pong")
        elseif topic == "stop" then
            return 0
        end
    end
end
return { main = main }
