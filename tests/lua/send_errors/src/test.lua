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

    test("send to an unknown name", function()
        local ok, err = process.send("send_errors_nobody", "hello", 1)
        eq(ok, nil, "ok")
        check(err, "error missing")
        eq(type(err), "userdata", "type(err)")
        eq(err:kind(), errors.NOT_FOUND, "kind")
        contains(err:message(), "send_errors_nobody", "message names the destination")
    end)

    test("send to a dead pid", function()
        local pid = assert(process.spawn_monitored("app:child", "app:processes"))
        local ev = wait_exit(pid)
        eq(ev.result.value, "done", "child result")
        local ok, err = process.send(pid, "hello", 1)
        eq(ok, nil, "ok")
        check(err, "error missing")
        eq(err:kind(), errors.NOT_FOUND, "kind")
        check(string.find(err, "not found"), "string.find(err, 'not found') on " .. tostring(err))
    end)

    test("send to a never-existing pid on a known host", function()
        local ok, err = process.send("{app:processes|0xfffff}", "hello")
        eq(ok, nil, "ok")
        check(err, "error missing")
        eq(err:kind(), errors.NOT_FOUND, "kind")
    end)

    test("send to an @ topic is rejected", function()
        local ok, err = process.send(process.pid(), "@private", 1)
        eq(ok, nil, "ok")
        check(err, "error missing")
        eq(err:kind(), errors.INVALID, "kind")
    end)

    test("send to self with an empty topic", function()
        eq(process.send(process.pid(), "", "x"), true, "send")
        local msg = recv(inbox)
        eq(msg:topic(), "", "topic")
        eq(msg:from(), process.pid(), "from")
        eq(msg:payload():data(), "x", "data")
    end)
    return finish()
end
return { main = main }
