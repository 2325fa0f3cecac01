-- The terminal process of the transport case (tests/cluster/run.sh).
-- Without arguments (the receiving node): spawns app:responder, prints its
-- pid and "ready", and holds the node until a line arrives on stdin.
-- With the responder's pid, a number of senders and a count each (the
-- sending node): a round trip (ping, pong), the numbered messages of the
-- senders, a send to a pid that does not exist on the live node, to a node
-- that is not a member, a 2 MiB one (split) and one too large; prints
-- "ready", then on a line
-- from stdin cancels the responder and ends.

return { main = function(target, senders, count)
    if not target then
        local r = assert(process.spawn("app:responder", "app:processes"))
        io.print("responder " .. r)
        io.print("ready")
        io.readline()
        return 0
    end
    senders, count = tonumber(senders), tonumber(count)
    local inbox, events = process.inbox(), process.events()
    show("ping", process.send(target, "ping", "hello"))
    local pong = inbox:receive()
    io.print("pong " .. pong:topic() .. " " .. pong:from() .. " " .. pong:payload():data())
    show("expect", process.send(target, "expect", senders * count))
    for _ = 1, senders do
        assert(process.spawn_monitored("app:sender", "app:processes", target, count))
    end
    local ended = 0
    while ended < senders do
        local ev = events:receive()
        if ev.kind == process.event.EXIT then ended = ended + 1 end
    end
    io.print("sent " .. senders * count)
    local head, hex = target:match("^(.*|0x)(%x+)}$")
    show("ghost", process.send(head .. string.format("%016x", tonumber(hex, 16) + 4097) .. "}",
        "nobody", 1))
    show("far", process.send((target:gsub("^{[^@]*@", "{zz@")), "x", 1))
    show("far cancel", process.cancel((target:gsub("^{[^@]*@", "{zz@")), "x"))
    -- over NATS's max_payload: split; over the transport's 64 MiB limit
    -- (a 64 MiB payload with its pids and a topic): refused
    show("big", process.send(target, "big", string.rep("x", 2 * 1024 * 1024)))
    show("huge", process.send(target, string.rep("t", 128 * 1024),
        string.rep("x", 64 * 1024 * 1024 - 1024)))
    io.print("ready")
    io.readline()
    show("cancel", process.cancel(target, "bye"))
    return 0
end }
