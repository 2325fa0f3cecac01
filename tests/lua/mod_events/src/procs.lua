-- processes for mod_events
local M = {}

function M.subscriber(caller, system, kind, n)
    local sub = assert(events.subscribe(system, kind))
    process.send(caller, "ready", process.pid())
    local got = {}
    local ch = sub:channel()
    for i = 1, n do got[i] = ch:receive() end
    process.send(caller, "got", got)
    return 0
end

function M.sender(system, kind, n)
    for i = 1, n do assert(events.send(system, kind, "/seq", i)) end
    return 0
end

function M.failing(caller)
    assert(events.subscribe("*"))
    process.send(caller, "ready", process.pid())
    error("the subscriber fails")
end

function M.without(caller)
    process.send(caller, "without", { global = events == nil, ok = pcall(require, "events") })
    return 0
end

return M
