-- The terminal process of the monitor/link case (tests/cluster/run.sh).
--
-- Without arguments (the watched node): spawns six app:target processes
-- and an app:trapper, prints "NAME {pid}" for each and "ready", and holds
-- the node until a line arrives on stdin.
--
-- With those pids (the watching node), traps links and prints one line
-- per outcome: a monitor whose target sends five messages and ends (the
-- messages come before the EXIT), one that fails, a trapped link to one
-- that fails, an untrapped link (a local app:linker, killed), pids that no
-- longer exist, terminate; then has the trapper watch two local mortals
-- (one ends, one fails); then arms stay1 (monitored and linked here and by
-- a second linker) and stay2 (monitored and linked, then no more), prints
-- "armed" and waits for the three notices the kill of the other node
-- brings, tries that node again, and makes sure nothing else came.

-- With "loss", stay1, stay2 and the trapper's pid (the session loss case):
-- monitors stay1, links stay2, has the trapper watch a local mortal,
-- prints "armed", prints the two notices the restart of NATS brings, then
-- waits for a line (NATS is back) and makes a round trip with stay1 (the
-- session goes on).
local function loss(stay1, stay2, trapper, inbox, events, event)
    show("loss monitor", process.monitor(stay1))
    show("loss link", process.link(stay2))
    local mortal = assert(process.spawn("app:mortal", "app:processes"))
    io.print("mortal " .. mortal)
    process.send(trapper, "watch", mortal)
    while inbox:receive():topic() ~= "watching" do end
    io.print("armed")
    for _ = 1, 2 do
        local ev = events:receive()
        event("lost " .. (ev.from == stay1 and "stay1" or ev.from == stay2 and "stay2" or ev.from),
            ev)
    end
    io.readline()
    show("after send", process.send(stay1, "end", 1))
    local msg = inbox:receive()
    io.print("after " .. msg:topic() .. " " .. tostring(msg:payload():data()) .. " " ..
        tostring(msg:from() == stay1))
    process.send(mortal, "end")
    return 0
end

return { main = function(t_ok, t_err, t_link, t_kill, stay1, stay2, trapper)
    if not t_ok then
        for _, name in ipairs({ "t_ok", "t_err", "t_link", "t_kill", "stay1", "stay2" }) do
            io.print(name .. " " .. assert(process.spawn("app:target", "app:processes")))
        end
        io.print("trapper " .. assert(process.spawn("app:trapper", "app:processes")))
        io.print("ready")
        io.readline()
        return 0
    end
    process.set_options({ trap_links = true })
    local inbox, events = process.inbox(), process.events()
    local function event(what, ev)
        local err = ev.result.error
        io.print(what .. " " .. ev.kind .. " " .. tostring(ev.result.value) .. " " ..
            (err and (err:kind() .. " " .. err:message()) or "nil"))
    end
    if t_ok == "loss" then
        return loss(t_err, t_link, t_kill, inbox, events, event)
    end
    local early = {} -- events that came while another was awaited
    local function event_from(a, b)
        for i, ev in ipairs(early) do
            if ev.from == a or ev.from == b then return table.remove(early, i) end
        end
        while true do
            local ev = events:receive()
            if ev.from == a or ev.from == b then return ev end
            table.insert(early, ev)
        end
    end
    local function message(topic)
        while true do
            local msg = inbox:receive()
            if msg:topic() == topic then return msg end
        end
    end

    -- a monitor: the target's messages, then its EXIT with its result
    show("monitor", process.monitor(t_ok))
    show("monitor again", process.monitor(t_ok))
    process.send(t_ok, "end", 5)
    local ev = event_from(t_ok)
    local byes = 0
    while true do
        local r = channel.select({ inbox:case_receive(), default = true })
        if r.default then break end
        if r.value:topic() == "bye" and r.value:payload():data() == byes + 1 then
            byes = byes + 1
        end
    end
    event("exit ok", ev)
    io.print("byes before the exit " .. byes)
    show("monitor err", process.monitor(t_err))
    process.send(t_err, "fail")
    event("exit err", event_from(t_err))

    -- links: trapped here; not trapped by a local linker, which is killed
    show("link", process.link(t_link))
    process.send(t_link, "fail")
    event("link down", event_from(t_link))
    local linker = assert(process.spawn_monitored("app:linker", "app:processes", t_kill,
        process.pid()))
    io.print("linker linked " .. message("linked"):payload():data())
    process.send(t_kill, "fail")
    event("linker", event_from(linker))

    -- pids whose processes ended: true, then the notice
    show("monitor gone", process.monitor(t_ok))
    event("gone exit", event_from(t_ok))
    show("link gone", process.link(t_err))
    event("gone link", event_from(t_err))
    show("terminate", process.terminate(stay1))

    -- the other way round: the trapper there watches processes here
    local calm = assert(process.spawn_monitored("app:mortal", "app:processes"))
    local doomed = assert(process.spawn_monitored("app:mortal", "app:processes"))
    io.print("calm " .. calm)
    io.print("doomed " .. doomed)
    for _, pid in ipairs({ calm, doomed }) do
        process.send(trapper, "watch", pid)
        message("watching")
    end
    process.send(calm, "end")
    event("calm", event_from(calm))
    process.send(doomed, "die")
    event("doomed", event_from(doomed))

    -- armed for the kill of the other node
    show("arm monitor", process.monitor(stay1))
    show("arm link", process.link(stay1))
    local linker2 = assert(process.spawn_monitored("app:linker", "app:processes", stay1,
        process.pid()))
    message("linked")
    show("arm monitor stay2", process.monitor(stay2))
    show("unmonitor stay2", process.unmonitor(stay2))
    show("arm link stay2", process.link(stay2))
    show("unlink stay2", process.unlink(stay2))
    io.print("armed")
    for _ = 1, 3 do
        ev = event_from(stay1, linker2)
        event("fired " .. (ev.from == stay1 and "stay1" or "linker2"), ev)
    end
    -- the node's departure fired everything before sends to it fail (one
    -- step of the cluster), so once this send failed, every notice is in
    -- the mailbox; the message to self comes after them
    show("send after", process.send(stay1, "x", 1))
    show("monitor after", process.monitor(stay1))
    process.send(process.pid(), "sync")
    message("sync")
    for _, e in ipairs(early) do io.print("stray " .. e.kind .. " " .. e.from) end
    while true do
        local r = channel.select({ events:case_receive(), default = true })
        if r.default then break end
        io.print("stray " .. r.value.kind .. " " .. r.value.from)
    end
    io.print("done")
    return 0
end }
