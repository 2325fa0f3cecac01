-- The process a test node runs on its terminal host (tests/cluster/run.sh).
-- Prints its pid and a child's pid, what the system module says of the
-- node, the cluster and the OS process, tries every call that resolves a
-- destination on the pid given as argument (one of another node), prints
-- "ready" and holds the node until a line arrives on stdin or stdin ends
-- (a SIGTERM also ends the read).

return { main = function(remote)
    local child = assert(process.spawn("app:child", "app:processes"))
    io.print("pid " .. process.pid())
    io.print("child " .. child)
    local addr, aerr = system.node.addr()
    local members = system.cluster.members()
    io.print("system id " .. system.node.id() .. " size " .. system.cluster.size() ..
        " role " .. system.node.role() .. " leader [" .. system.cluster.leader() .. "]")
    io.print("system addr " .. tostring(addr) .. " " .. (aerr and aerr:kind() .. " " ..
        aerr:message() or ""))
    io.print("system members " .. #members .. " " .. members[1].id .. " " ..
        tostring(members[1].is_local) .. " " .. tostring(members[1].addr))
    local ids = {}
    for i, m in ipairs(members) do ids[i] = m.id .. (m.is_local and "*" or "") end
    io.print("system member ids " .. table.concat(ids, ","))
    io.print("system os " .. system.process.pid() .. " " .. system.process.hostname())
    io.print("system cwd " .. system.process.cwd())
    if remote then
        show("send", process.send(remote, "hello", 1))
        show("cancel", process.cancel(remote, "bye"))
        show("monitor", process.monitor(remote))
        show("link", process.link(remote))
        show("register", process.registry.register("far", remote))
    end
    io.print("ready")
    io.readline()
    process.send(child, "stop")
    return 0
end }
