-- The terminal process of the flow cases (tests/cluster/flow.sh).
--
-- Without arguments (the receiving node): spawns two app:fsink processes
-- and an app:responder, prints "sink1 {pid}", "sink2 {pid}", "responder
-- {pid}" and "ready", and holds the node until a line arrives on stdin.
--
-- "big SINK": a 5,000,000-byte message (app:pattern) to SINK between a
-- "pre" and a "post" from this process, then tells a gated app:fsend to
-- send ten numbered messages to SINK: they are sent after the big one
-- was, from another process.
--
-- "seq SENDERS COUNT SIZE SINK...": SENDERS app:fsend processes each send
-- COUNT numbered messages (SIZE bytes of padding each) to the sinks in
-- turn; prints "sent N" once every sender has returned (every send said
-- true).
--
-- "flood RESPONDER SINK": monitors RESPONDER and makes a round trip with
-- it, sends a 6,000,000-byte message to SINK (more than the receiving
-- node's test pending limit), prints the monitor's EXIT, then makes
-- another round trip.
--
-- Each prints "ready" when done and holds the node until a line arrives.

local function event(what, ev)
    local err = ev.result.error
    io.print(what .. " " .. ev.kind .. " " .. tostring(ev.result.value) .. " " ..
        (err and (err:kind() .. " " .. err:message()) or "nil"))
end

local function big(sink)
    local small = assert(process.spawn("app:fsend", "app:processes", sink, 10, 0, true))
    show("expect", process.send(sink, "expect", 10))
    show("pre", process.send(sink, "pre", 1))
    show("big", process.send(sink, "big", pattern(5000000)))
    show("post", process.send(sink, "post", 1))
    process.send(small, "go")
end

local function seq(senders, count, size, sinks)
    local per = {}
    for i = 1, senders do
        local s = sinks[(i - 1) % #sinks + 1]
        per[s] = (per[s] or 0) + count
    end
    for s, n in pairs(per) do show("expect", process.send(s, "expect", n)) end
    local events = process.events()
    for i = 1, senders do
        assert(process.spawn_monitored("app:fsend", "app:processes",
            sinks[(i - 1) % #sinks + 1], count, size))
    end
    local failed = 0
    for _ = 1, senders do
        local ev = events:receive()
        if ev.result.error then
            failed = failed + 1
            io.print("sender failed " .. tostring(ev.result.error))
        end
    end
    io.print("sent " .. senders * count - failed * count)
end

local function flood(responder, sink)
    local inbox, events = process.inbox(), process.events()
    show("flood monitor", process.monitor(responder))
    -- the pong comes after the monitor request was taken there
    process.send(responder, "ping", "before")
    io.print("flood pong " .. inbox:receive():payload():data())
    show("flood big", process.send(sink, "big", pattern(6000000)))
    event("flood fired", events:receive())
    process.send(responder, "ping", "after")
    io.print("flood pong " .. inbox:receive():payload():data())
end

return { main = function(mode, ...)
    if not mode then
        io.print("sink1 " .. assert(process.spawn("app:fsink", "app:processes")))
        io.print("sink2 " .. assert(process.spawn("app:fsink", "app:processes")))
        io.print("responder " .. assert(process.spawn("app:responder", "app:processes")))
    elseif mode == "big" then
        big(...)
    elseif mode == "seq" then
        local args = { ... }
        seq(tonumber(args[1]), tonumber(args[2]), tonumber(args[3]), { table.unpack(args, 4) })
    elseif mode == "flood" then
        flood(...)
    end
    io.print("ready")
    io.readline()
    return 0
end }
