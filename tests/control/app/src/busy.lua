-- The load test's workload: spawns echoers and sends them messages in a
-- loop until a line arrives on stdin; prints "BUSY" once it runs.
local function main(n)
    n = tonumber(n) or 8
    local inbox = process.inbox()
    local me = process.pid()
    local echoers = {}
    for i = 1, n do echoers[i] = process.spawn("app:echoer", "app:processes", me) end
    io.print("BUSY")
    local stop = false
    coroutine.spawn(function()
        io.readline()
        stop = true
    end)
    local rounds = 0
    while not stop do
        for i = 1, n do process.send(echoers[i], "ping", rounds) end
        for _ = 1, n do inbox:receive() end
        process.spawn("app:brief", "app:processes")
        rounds = rounds + 1
        if rounds % 50 == 0 then time.sleep("1ms") end
    end
    io.print("DONE " .. rounds)
    return 0
end

return { main = main }
