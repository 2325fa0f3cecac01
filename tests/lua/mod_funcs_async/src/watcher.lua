-- Monitors pid, tells `caller` it does ("watching"), and tells it again
-- ("watched") once pid's EXIT arrived.
local function main(pid, caller)
    assert(process.monitor(pid))
    process.send(caller, "watching", pid)
    local events = process.events()
    while true do
        local ev = events:receive()
        if ev.kind == process.event.EXIT and ev.from == pid then
            process.send(caller, "watched", pid)
            return 0
        end
    end
end

return { main = main }
