-- A node driven by tests/cluster/names.sh, one command per stdin line; it
-- prints each call's outcome (show) and then "done <line>":
--   reg NAME SCOPE      process.registry.register(NAME, nil, SCOPE)
--   unreg NAME SCOPE    process.registry.unregister(NAME, SCOPE)
--   lookup NAME         process.registry.lookup(NAME)
--   ping DEST           sends "ping" to DEST; its "pong" prints "pong PID"
--   mon DEST            process.monitor(DEST); its EXIT prints "exit PID"
--   onexit NAME         the next EXIT makes this process register NAME
--                       (CONSISTENT) at once: "onexit NAME <outcome>"
--   seq DEST N          sends N messages "num" 1..N to DEST; each prints
--                       "num I" where it arrives
-- A CANCEL event prints "cancel FROM REASON".
--   kid NAME            a child registers NAME (CONSISTENT): "kid NAME ok"
--   kidstop             the child ends: "exit PID" once its EXIT arrives
-- Messages and events are handled by a task of their own, so the node
-- answers pings while it waits for the next line.
local R = process.registry
local scopes = {LOCAL = R.LOCAL, EVENTUAL = R.EVENTUAL, CONSISTENT = R.CONSISTENT,
    STRONG = R.STRONG}

return { main = function()
    local inbox, events = process.inbox(), process.events()
    local kid, onexit
    coroutine.spawn(function()
        while true do
            local r = channel.select { inbox:case_receive(), events:case_receive() }
            if r.channel == events then
                if r.value.kind == process.event.EXIT then
                    if onexit then
                        local name = onexit
                        onexit = nil
                        show("onexit " .. name, R.register(name, nil, R.CONSISTENT))
                    end
                    io.print("exit " .. r.value.from)
                end
                if r.value.kind == process.event.CANCEL then
                    io.print("cancel " .. r.value.from .. " " .. tostring(r.value.reason))
                end
            else
                local m = r.value
                if m:topic() == "ping" then
                    process.send(m:from(), "pong", process.pid())
                elseif m:topic() == "num" then
                    io.print("num " .. tostring(m:payload():data()))
                elseif m:topic() == "pong" then
                    io.print("pong " .. tostring(m:payload():data()))
                elseif m:topic() == "kid" then
                    local d = m:payload():data()
                    io.print("kid " .. d.name .. " " .. d.outcome)
                end
            end
        end
    end)
    io.print("pid " .. process.pid())
    io.print("ready")
    while true do
        local line = io.readline()
        if not line or line == "quit" then break end
        local cmd, a, b = line:match("^(%S+)%s*(%S*)%s*(%S*)")
        if cmd == "reg" then
            show(line, R.register(a, nil, scopes[b]))
        elseif cmd == "unreg" then
            show(line, R.unregister(a, scopes[b]))
        elseif cmd == "lookup" then
            show(line, R.lookup(a))
        elseif cmd == "ping" then
            show(line, process.send(a, "ping"))
        elseif cmd == "mon" then
            show(line, process.monitor(a))
        elseif cmd == "seq" then
            local ok, err = true, nil
            for i = 1, tonumber(b) do
                ok, err = process.send(a, "num", i)
                if not ok then break end
            end
            show(line, ok, err)
        elseif cmd == "kid" then
            kid = process.spawn_monitored("app:namekid", "app:processes", process.pid(), a)
        elseif cmd == "onexit" then
            onexit = a
        elseif cmd == "kidstop" then
            process.send(kid, "stop")
        end
        io.print("done " .. line)
    end
    return 0
end }
