-- The child process (a long entry id, on a long-named host) and the
-- function whose pid carries its long entry id.
local function main(parent)
    process.registry.register("long_ids_child_" .. string.rep("n", 200))
    process.send(parent, "hello", process.pid())
    local inbox = process.inbox()
    while true do
        local msg = inbox:receive()
        if msg:topic() == "ping" then
            process.send(msg:from(), "pong", { from = msg:from(), data = msg:payload():data() })
        elseif msg:topic() == "quit" then
            return 0
        end
    end
end

local function pid()
    return process.pid()
end

return { main = main, pid = pid }
