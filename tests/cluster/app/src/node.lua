-- The process a test node runs on its terminal host (tests/cluster/run.sh).
-- Prints its pid and a child's pid, tries every call that resolves a
-- destination on the pid given as argument (one of another node), prints
-- "ready" and holds the node until a line arrives on stdin or stdin ends
-- (a SIGTERM also ends the read).
local function show(what, ok, err)
    if err then
        io.print(what .. " " .. tostring(ok) .. " " .. err:kind() .. " " .. err:message())
    else
        io.print(what .. " " .. tostring(ok))
    end
end

return { main = function(remote)
    local child = assert(process.spawn("app:child", "app:processes"))
    io.print("pid " .. process.pid())
    io.print("child " .. child)
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
