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
    local me = process.pid()
    local events = process.events()

    test("cancel is delivered as a CANCEL event (queued until events())", function()
        local pid = assert(process.spawn_monitored("app:child", "app:processes", me, "cancellable"))
        expect_msg("ready")
        eq(process.cancel(pid, "please stop"), true, "cancel")
        process.send(pid, "subscribe now")
        local ev = wait_exit(pid)
        eq(ev.result.error, nil, "error")
        local r = ev.result.value
        eq(r.kind, process.event.CANCEL, "event kind")
        eq(r.from, me, "event from")
        eq(r.reason, "please stop", "event reason")
        eq(type(r.at), "number", "event at")
    end)

    test("terminate ends a blocked process abnormally", function()
        local pid = assert(process.spawn_monitored("app:child", "app:processes", me, "block"))
        expect_msg("ready")
        eq(process.terminate(pid), true, "terminate")
        local ev = wait_exit(pid)
        eq(ev.result.value, nil, "value")
        check(ev.result.error, "error missing")
        contains(ev.result.error:message(), "process terminated", "message")
    end)

    test("monitor of a live process, unmonitor", function()
        local pid = assert(process.spawn("app:child", "app:processes", me, "block"))
        expect_msg("ready")
        eq(process.monitor(pid), true, "monitor")
        local again, aerr = process.monitor(pid)
        eq(again, nil, "monitor twice")
        check(aerr, "monitor twice error")
        process.send(pid, "go")
        local ev = wait_exit(pid)
        eq(ev.result.value, "released", "value")
        local dead, derr = process.monitor(pid)
        eq(dead, nil, "monitor of a dead process")
        check(derr, "monitor of a dead process error")
        -- unmonitor: no EXIT arrives
        local pid2 = assert(process.spawn("app:child", "app:processes", me, "block"))
        expect_msg("ready")
        eq(process.monitor(pid2), true, "monitor 2")
        eq(process.unmonitor(pid2), true, "unmonitor")
        local pid3 = assert(process.spawn_monitored("app:child", "app:processes", me, "block"))
        expect_msg("ready")
        process.send(pid2, "go")
        -- pid3 ends after pid2; if pid2's EXIT were delivered it would come first
        process.send(pid3, "go")
        local ev3 = recv(events)
        eq(ev3.from, pid3, "only the still-monitored process reports")
    end)

    test("options", function()
        local o = process.get_options()
        eq(o.trap_links, false, "default trap_links")
        local ok, err = process.set_options({ trap_links = true })
        eq(ok, true, "set_options")
        eq(process.get_options().trap_links, true, "trap_links set")
        ok, err = process.set_options({ bogus = 1 })
        eq(ok, false, "unsupported option")
        eq(err and err:kind(), errors.INVALID, "kind")
    end)

    test("trapped LINK_DOWN on abnormal exit of a linked child", function()
        local pid = assert(process.spawn_linked("app:child", "app:processes", me, "fail_on_msg"))
        expect_msg("ready")
        process.send(pid, "fail now")
        local ev = recv(events)
        eq(ev.kind, process.event.LINK_DOWN, "kind")
        eq(ev.from, pid, "from")
        check(ev.result and ev.result.error, "result.error")
        contains(ev.result.error:message(), "linked child failed", "message")
    end)

    test("untrapped link: the partner dies with 'linked process failed'", function()
        local failer = assert(process.spawn_monitored("app:child", "app:processes", me, "fail_on_msg"))
        expect_msg("ready")
        local victim = assert(process.spawn_monitored("app:child", "app:processes", me, "link_to", failer))
        expect_msg("ready")
        process.send(failer, "fail now")
        local fev = wait_exit(failer)
        check(fev.result.error, "failer error")
        local ev = wait_exit(victim)
        eq(ev.result.value, nil, "victim value")
        check(ev.result.error, "victim must fail")
        contains(ev.result.error:message(), "linked process failed", "message")
    end)

    test("normal exit of a linked child sends no LINK_DOWN", function()
        local pid = assert(process.spawn_linked_monitored("app:child", "app:processes", me, "block"))
        expect_msg("ready")
        process.send(pid, "go")
        local ev = wait_exit(pid)
        eq(ev.result.value, "released", "value")
        local r = channel.select({ events:case_receive() }, true)
        check(r.default, "unexpected event " .. tostring(r.value and r.value.kind))
    end)
    return finish()
end
return { main = main }
