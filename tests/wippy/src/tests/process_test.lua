-- The process API from inside a test function: a test function is a
-- process of its own, with a pid, an inbox, events, names and links.
local function own_pid(): boolean
    local me = process.pid()
    expect.ok(type(me) == "string" and me:match("^{.+|0x%x+}$"), "pid " .. tostring(me))
    return true
end

local function inbox_roundtrip()
    local inbox = process.inbox()
    expect.ok(process.send(process.pid(), "hello", { n = 1 }), "send to self")
    local msg = expect.recv(inbox)
    expect.eq(msg:topic(), "hello", "topic")
    expect.eq(msg:payload():data().n, 1, "payload")
    expect.eq(msg:from(), process.pid(), "from")
end

local function monitor_exit()
    local events = process.events()
    local child = expect.ok(process.spawn_monitored("app.tests:child", "app:processes", "fail"))
    local ev = expect.recv(events)
    expect.eq(ev.kind, process.event.EXIT, "event kind")
    expect.eq(ev.from, child, "from the child")
    expect.ok(ev.result.error, "an error result")
    expect.ok(string.find(tostring(ev.result.error), "child failed", 1, true), "its message")
end

local function names()
    local name = "wippy-test-" .. process.pid()
    expect.ok(process.registry.register(name), "register")
    expect.eq(process.registry.lookup(name), process.pid(), "lookup")
    expect.fails(errors.ALREADY_EXISTS, nil,
        process.registry.register(name, process.spawn("app.tests:child", "app:processes", "wait")))
    expect.ok(process.send(name, "by-name"), "send by name")
    expect.eq(expect.recv(process.inbox()):topic(), "by-name", "arrived by name")
    expect.eq(process.registry.unregister(name), true, "unregister")
    expect.fails(errors.NOT_FOUND, nil, process.registry.lookup(name))
end

local function links()
    process.set_options({ trap_links = true })
    local events = process.events()
    local child = expect.ok(process.spawn_linked("app.tests:child", "app:processes", "fail"))
    local ev = expect.recv(events)
    expect.eq(ev.kind, process.event.LINK_DOWN, "LINK_DOWN")
    expect.eq(ev.from, child, "from the child")
end

local function cancel()
    local events = process.events()
    local child = expect.ok(process.spawn_monitored("app.tests:child", "app:processes", "cancel"))
    expect.ok(process.cancel(child, "stop now"), "cancel")
    local ev = expect.recv(events)
    expect.eq(ev.kind, process.event.EXIT, "the child ended")
    expect.eq(ev.result.value, "cancelled: stop now", "it saw the reason")
end

return { own_pid = own_pid, inbox_roundtrip = inbox_roundtrip, monitor_exit = monitor_exit,
    names = names, links = links, cancel = cancel }
