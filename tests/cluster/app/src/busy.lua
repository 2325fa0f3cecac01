-- The busy-node case (tests/cluster/run.sh). Without arguments (the busy
-- node, one worker): spawns app:responder and app:spinner (which keeps the
-- only worker busy for SPIN_S seconds, longer than down_after), prints the
-- responder's pid, "spinning" and "ready", and holds the node until a line
-- arrives on stdin. With the responder's pid and a count (the other node):
-- that many round trips to it one after another, each within 5 s; prints
-- "pongs N" and "ready", and holds the node until a line on stdin.
local time = require("time")

return { main = function(target, count)
    if not target then
        local r = assert(process.spawn("app:responder", "app:processes"))
        assert(process.spawn("app:spinner", "app:processes", 8))
        io.print("responder " .. r)
        io.print("spinning")
        io.print("ready")
        io.readline()
        return 0
    end
    local inbox = process.inbox()
    local got = 0
    for i = 1, tonumber(count) do
        process.send(target, "ping", i)
        local r = channel.select({ inbox:case_receive(), time.after("5s"):case_receive() })
        if r.channel ~= inbox or r.value:payload():data() ~= i then break end
        got = got + 1
    end
    io.print("pongs " .. got)
    io.print("ready")
    io.readline()
    return 0
end }
