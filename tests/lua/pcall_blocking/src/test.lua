-- ---- test helpers: the shared library app:testing (tests/lua/lib/testing.lua),
-- imported as `t`; local aliases keep the call sites short
local test, check, eq, contains = t.test, t.check, t.eq, t.contains
local recv, expect_msg, wait_exit, finish = t.recv, t.expect_msg, t.wait_exit, t.finish
-- ----------------------------------------------------------------------
local function main()
    local inbox = process.inbox()

    test("pcall around time.sleep", function()
        local ok, r = pcall(time.sleep, "5ms")
        eq(ok, true, "pcall ok")
        ok, r = pcall(function() time.sleep("5ms") return "slept" end)
        eq(ok, true, "pcall ok (closure)")
        eq(r, "slept", "result")
    end)

    test("error after a blocking call inside pcall is caught", function()
        local ok, err = pcall(function()
            time.sleep("5ms")
            error("after sleep")
        end)
        eq(ok, false, "pcall result")
        contains(err, "after sleep", "message")
        contains(err, "test.lua:", "position")
    end)

    test("pcall around channel receive", function()
        local ch = channel.new()
        coroutine.spawn(function()
            time.sleep("5ms")
            ch:send("late value")
        end)
        local ok, v, rok = pcall(ch.receive, ch)
        eq(ok, true, "pcall ok")
        eq(v, "late value", "value")
        eq(rok, true, "receive ok")
    end)

    test("pcall around select with a timer", function()
        local ok, r = pcall(function()
            local t = time.after("10ms")
            return channel.select({ channel.new():case_receive(), t:case_receive() })
        end)
        eq(ok, true, "pcall ok")
        eq(type(r), "table", "select result")
        eq(r.ok, true, "select ok")
    end)

    test("pcall around process inbox receive", function()
        assert(process.spawn("app:child", "app:processes", process.pid()))
        local ok, msg = pcall(function() return recv(inbox) end)
        eq(ok, true, "pcall ok")
        eq(msg:topic(), "hello", "topic")
        eq(msg:payload():data(), "from child", "data")
    end)

    test("xpcall with a handler around blocking code", function()
        local seen
        local ok, r = xpcall(function()
            time.sleep("2ms")
            error("in xpcall")
        end, function(e)
            seen = e
            return "handled: " .. tostring(e)
        end)
        eq(ok, false, "xpcall result")
        contains(r, "handled: ", "handler return")
        contains(seen, "in xpcall", "handler saw the error")
        ok, r = xpcall(function() time.sleep("2ms") return 5 end, function() return "x" end)
        eq(ok, true, "xpcall ok")
        eq(r, 5, "xpcall value")
    end)

    test("nested pcall with blocking at every level", function()
        local trace = {}
        local ok1, r1 = pcall(function()
            time.sleep(1)
            trace[#trace + 1] = 1
            local ok2, r2 = pcall(function()
                time.sleep(1)
                trace[#trace + 1] = 2
                local ok3, r3 = pcall(function()
                    time.sleep(1)
                    trace[#trace + 1] = 3
                    error("deep")
                end)
                time.sleep(1)
                return (ok3 and "no" or "caught:") .. tostring(r3)
            end)
            time.sleep(1)
            return r2
        end)
        eq(ok1, true, "outer ok")
        contains(r1, "caught:", "inner result")
        contains(r1, "deep", "inner error")
        eq(#trace, 3, "all levels ran")
    end)

    test("error objects pass through pcall unchanged", function()
        local e = errors.new({ message = "typed", kind = errors.CONFLICT })
        local ok, got = pcall(function()
            time.sleep(1)
            error(e)
        end)
        eq(ok, false, "pcall result")
        check(rawequal(got, e), "same error object")
        eq(got:kind(), errors.CONFLICT, "kind")
        local ok2, tbl = pcall(function() time.sleep(1) error({ code = 7 }) end)
        eq(ok2, false, "table error")
        eq(type(tbl), "table", "table error value")
        eq(tbl.code, 7, "table error field")
    end)

    test("blocking pcall inside a spawned task", function()
        local out = channel.new(1)
        coroutine.spawn(function()
            local ok, err = pcall(function()
                time.sleep("2ms")
                error("task error")
            end)
            out:send({ ok = ok, err = tostring(err) })
        end)
        local r = recv(out)
        eq(r.ok, false, "caught in the task")
        contains(r.err, "task error", "message")
    end)

    test("many pcall+sleep iterations", function()
        for i = 1, 200 do
            local ok = pcall(time.sleep, 1)
            if not ok then error("iteration " .. i) end
        end
    end)

    test("pcall around a runtime error in a blocking call argument", function()
        local ok, err = pcall(channel.select, "not a table")
        eq(ok, false, "bad argument raises")
        check(err ~= nil, "error value")
    end)
    return finish()
end
return { main = main }
