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

    test("calls on a pid of another node: Unavailable (terminate: Invalid)", function()
        -- a standalone node has no connected node: the pid names another
        -- node, whether or not such a process exists there
        local far = "{zz@app:processes|0x00001}"
        for _, call in ipairs({ "send", "cancel", "monitor", "link" }) do
            local ok, err
            if call == "send" then
                ok, err = process.send(far, "hello", 1)
            else
                ok, err = process[call](far)
            end
            eq(ok, nil, call .. ": ok")
            check(err, call .. ": error missing")
            eq(err:kind(), errors.UNAVAILABLE, call .. ": kind")
            eq(err:message(), "node zz not connected", call .. ": message")
        end
        -- terminate reaches this node's processes only (spec 07 §4)
        local ok, err = process.terminate(far)
        eq(ok, nil, "terminate: ok")
        eq(err:kind(), errors.INVALID, "terminate: kind")
        eq(err:message(), "cannot terminate a process of node zz: terminate reaches this " ..
            "node's processes only", "terminate: message")
        -- the same counter with this node's (empty) node part is local
        ok, err = process.send("{app:processes|0x00001}", "hello", 1)
        eq(ok, nil, "local miss")
        eq(err:kind(), errors.NOT_FOUND, "local miss: kind")
        -- registering another node's pid: not found here
        ok, err = process.registry.register("far", far)
        eq(ok, nil, "register")
        eq(err:kind(), errors.NOT_FOUND, "register: kind")
    end)
    return finish()
end
return { main = main }
