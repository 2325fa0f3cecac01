-- ---- inline test helper ----------------------------------------------
local failed = 0
local function test(name, fn)
    local ok, err = pcall(fn)
    if ok then
        io.print("PASS " .. name)
    else
        failed = failed + 1
        io.print("FAIL " .. name .. ": " .. tostring(err))
    end
end
local function check(cond, msg)
    if not cond then error(msg or "check failed", 2) end
end
local function eq(got, want, what)
    if got ~= want then
        error(string.format("%s: expected %s, got %s", what or "value",
            tostring(want), tostring(got)), 2)
    end
end
local function contains(s, sub, what)
    s = tostring(s)
    if not string.find(s, sub, 1, true) then
        error(string.format("%s: %q does not contain %q", what or "text", s, sub), 2)
    end
end
-- receive one value from ch, failing after `limit` (a failure bound only)
local function recv(ch, limit)
    local deadline = time.after(limit or "10s")
    local r = channel.select({ ch:case_receive(), deadline:case_receive() })
    if r.channel == deadline then error("timed out after " .. (limit or "10s"), 2) end
    return r.value, r.ok
end
-- next inbox message, which must have `topic`
local function expect_msg(topic, limit)
    local msg = recv(process.inbox(), limit)
    eq(msg:topic(), topic, "topic")
    return msg
end
-- EXIT event of `pid` (EXITs of other pids are kept for later calls)
local stashed_exits = {}
local function wait_exit(pid, limit)
    local ev = stashed_exits[pid]
    if ev then stashed_exits[pid] = nil return ev end
    local deadline = time.after(limit or "10s")
    while true do
        local r = channel.select({ process.events():case_receive(), deadline:case_receive() })
        if r.channel == deadline then error("timed out waiting for EXIT of " .. tostring(pid), 2) end
        ev = r.value
        if ev.kind == process.event.EXIT and ev.from == pid then return ev end
        stashed_exits[ev.from] = ev
    end
end
local function finish() if failed == 0 then return 0 end return 1 end
-- ----------------------------------------------------------------------
local function main()
    local inbox = process.inbox()
    local events = process.events()
    local me = process.pid()
    local reg = process.registry

    test("register and lookup", function()
        local ok, err = reg.register("names_main")
        eq(ok, true, "register: " .. tostring(err))
        eq(reg.lookup("names_main"), me, "lookup")
        eq(reg.register("names_main"), true, "re-register by the same pid is idempotent")
        eq(reg.register("names_main_2"), true, "second name for the same pid")
        eq(reg.lookup("names_main_2"), me, "lookup second name")
    end)

    test("lookup of an unknown name", function()
        local pid, err = reg.lookup("names_nobody")
        eq(pid, nil, "pid")
        check(err, "error missing")
        eq(err:kind(), errors.NOT_FOUND, "kind")
    end)

    test("duplicate register from another process", function()
        local pid = assert(process.spawn_monitored("app:child", "app:processes", me, "dup"))
        local r = expect_msg("dup_result"):payload():data()
        eq(r.ok, nil, "ok")
        eq(r.kind, errors.ALREADY_EXISTS, "kind")
        eq(r.lookup, me, "name still bound to the first owner")
        wait_exit(pid)
        eq(reg.lookup("names_main"), me, "lookup after the failed steal")
    end)

    test("send to a name, release on exit", function()
        local pid = assert(process.spawn_monitored("app:child", "app:processes", me, "owner"))
        local r = expect_msg("registered"):payload():data()
        eq(r.ok, true, "child register: " .. tostring(r.err))
        eq(r.ok2, true, "child second register")
        eq(reg.lookup("names_child"), pid, "lookup child name")
        eq(reg.lookup("names_child_alias"), pid, "lookup child alias")
        eq(process.send("names_child", "ping", "p1"), true, "send by name")
        eq(expect_msg("pong"):payload():data(), "p1", "pong payload")
        eq(process.send("names_child_alias", "ping", "p2"), true, "send by alias")
        eq(expect_msg("pong"):payload():data(), "p2", "pong payload 2")
        process.send("names_child", "quit")
        local ev = wait_exit(pid)
        eq(ev.result.error, nil, "child error")
        local p2, e2 = reg.lookup("names_child")
        eq(p2, nil, "name released after exit")
        eq(e2 and e2:kind(), errors.NOT_FOUND, "lookup kind after exit")
        eq(reg.lookup("names_child_alias"), nil, "alias released after exit")
        local s, se = process.send("names_child", "ping", "late")
        eq(s, nil, "send to released name")
        eq(se and se:kind(), errors.NOT_FOUND, "send kind")
        -- the name is free again
        eq(reg.register("names_child"), true, "re-register released name")
        eq(reg.unregister("names_child"), true, "unregister it")
    end)

    test("unregister returns true/false", function()
        eq(reg.register("names_tmp"), true, "register")
        eq(reg.unregister("names_tmp"), true, "first unregister")
        eq(reg.unregister("names_tmp"), false, "second unregister")
        eq(reg.unregister("names_never"), false, "unregister unknown")
        eq(reg.lookup("names_tmp"), nil, "lookup after unregister")
    end)

    test("another process may unregister a local name", function()
        eq(reg.register("names_victim"), true, "register")
        local pid = assert(process.spawn_monitored("app:child", "app:processes", me, "unreg"))
        local r = expect_msg("unreg_result"):payload():data()
        eq(r.r1, true, "first unregister")
        eq(r.r2, false, "second unregister")
        wait_exit(pid)
        eq(reg.lookup("names_victim"), nil, "lookup")
    end)

    test("register a name for another pid", function()
        local pid = assert(process.spawn_monitored("app:child", "app:processes", me, "owner"))
        expect_msg("registered")
        eq(reg.register("names_for_child", pid), true, "register for child")
        eq(reg.lookup("names_for_child"), pid, "lookup")
        eq(process.send("names_for_child", "ping", "p3"), true, "send")
        eq(expect_msg("pong"):payload():data(), "p3", "pong")
        process.send(pid, "quit")
        wait_exit(pid)
        eq(reg.lookup("names_for_child"), nil, "released with its process")
    end)

    test("registry constants", function()
        eq(reg.LOCAL, 0, "LOCAL")
        check(type(reg.EVENTUAL) == "number", "EVENTUAL")
    end)
    return finish()
end
return { main = main }
