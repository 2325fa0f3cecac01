-- ---- test helpers: the shared library app:testing (tests/lua/lib/testing.lua),
-- imported as `t`; local aliases keep the call sites short
local test, check, eq, contains = t.test, t.check, t.eq, t.contains
local recv, expect_msg, wait_exit, finish = t.recv, t.expect_msg, t.wait_exit, t.finish
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
