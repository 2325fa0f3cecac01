-- Node B of the distributed scenarios (`app:serve [local]`): starts the
-- tutorial's relay (no sleep in its workers), which registers the name
-- "relay" in the cluster's CONSISTENT scope (with "local": in this node's
-- LOCAL scope only, for a cluster where another node holds the name, or
-- a node that is about to be killed), and the factory; prints "relay <pid>",
-- "factory <pid>" and "ready" for bench/run to pass to node A, then holds
-- the node until a line arrives on stdin, stdin ends or a SIGTERM ends the
-- read.
local io = require("io")

local function main(scope)
    local fail = b.failer("serve")
    if scope ~= nil and scope ~= "local" then return fail("usage: serve [local]") end
    local inbox = process.inbox()
    local relay, err = process.spawn("app:relay", "app:processes", process.pid(), 0,
                                     scope == nil and process.registry.CONSISTENT or nil)
    if not relay then return fail("relay spawn: %s", tostring(err)) end
    local _, e = b.expect(inbox, "relay_ready", "30s")
    if e then return fail("%s", e) end
    local factory, ferr = process.spawn("app:factory", "app:processes")
    if not factory then return fail("factory spawn: %s", tostring(ferr)) end
    io.print("relay " .. relay)
    io.print("factory " .. factory)
    io.print("ready")
    io.readline()
    return 0
end

return { main = main }
