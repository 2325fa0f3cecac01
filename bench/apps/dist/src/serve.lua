-- Node B of the distributed scenarios: starts the tutorial's relay (no
-- sleep in its workers) and the factory, prints "relay <pid>",
-- "factory <pid>" and "ready" for bench/run to pass to node A, then holds
-- the node until a line arrives on stdin, stdin ends or a SIGTERM ends the
-- read.
local io = require("io")

local function main()
    local inbox = process.inbox()
    local relay, err = process.spawn("app:relay", "app:processes", process.pid(), 0)
    if not relay then return b.failer("serve")("relay spawn: %s", tostring(err)) end
    local _, e = b.expect(inbox, "relay_ready", "30s")
    if e then return b.failer("serve")("%s", e) end
    local factory, ferr = process.spawn("app:factory", "app:processes")
    if not factory then return b.failer("serve")("factory spawn: %s", tostring(ferr)) end
    io.print("relay " .. relay)
    io.print("factory " .. factory)
    io.print("ready")
    io.readline()
    return 0
end

return { main = main }
