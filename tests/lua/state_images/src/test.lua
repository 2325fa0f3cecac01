-- ---- test helpers: the shared library app:testing (tests/lua/lib/testing.lua),
-- imported as `t`; local aliases keep the call sites short
local test, check, eq, contains = t.test, t.check, t.eq, t.contains
local recv, expect_msg, wait_exit, finish = t.recv, t.expect_msg, t.wait_exit, t.finish
-- ----------------------------------------------------------------------
-- Every process of a code after the first is its state image copied and
-- moved (vm/image.c): these processes must behave as states built one by
-- one, share nothing, and end as any process does.

local N = 200

local function main()
    t.before_each(t.drain_inbox)

    test("processes copied from a large image compute the same", function()
        local pids = {}
        for i = 1, N do
            pids[i] = assert(process.spawn_monitored("app:big", "app:processes", process.pid(), 7))
        end
        local first
        for i = 1, N do
            local m = expect_msg("big")
            local d = m:payload():data()
            if first == nil then first = d.sum end
            eq(d.sum, first, "checksum of process " .. i)
            eq(d.up, "WORD_006_GGGGGGGäb", "string methods")
            eq(d.arith, 15, "string arithmetic")
            eq(d.now, true, "time module")
            eq(d.rest, true, "the rest of the time module after time.now")
            eq(d.counter, 1, "top-level local, per process")
        end
        for i = 1, N do
            local ev = wait_exit(pids[i])
            eq(ev.result.error, nil, "exit error of process " .. i)
        end
    end)

    test("a change to one copy is not seen by the next", function()
        for i = 1, 3 do
            local pid = assert(process.spawn_monitored("app:mutator", "app:processes"))
            local r = wait_exit(pid).result
            eq(r.error, nil, "exit error")
            local v = r.value
            eq(v.upper, "function", "string.upper in copy " .. i)
            eq(v.send, "function", "process.send in copy " .. i)
            eq(v.mode, "original", "top-level table in copy " .. i)
            eq(v.method, "ABC", "string method in copy " .. i)
            eq(v.marker, nil, "global in copy " .. i)
        end
    end)

    test("the main task blocked, then raising: EXIT error", function()
        local pid = assert(process.spawn_monitored("app:blocker", "app:processes", process.pid(), "error"))
        eq(expect_msg("blocked"):payload():data(), "error", "blocked")
        process.send(pid, "go")
        local e = wait_exit(pid).result.error
        check(e, "error missing")
        contains(e:message(), "raised after go", "message")
        contains(e:message(), "blocker.lua", "position")
    end)

    test("the main task blocked on messages and a timer channel, then returning", function()
        local pid = assert(process.spawn_monitored("app:blocker", "app:processes", process.pid(), "return"))
        expect_msg("blocked")
        process.send(pid, "go")
        local r = wait_exit(pid).result
        eq(r.error, nil, "error")
        eq(r.value.topic, "go", "message received")
        eq(r.value.timer, "userdata", "timer value")
    end)

    test("the main task sleeping, then returning", function()
        local pid = assert(process.spawn_monitored("app:blocker", "app:processes", process.pid(), "sleep"))
        expect_msg("blocked")
        local r = wait_exit(pid).result
        eq(r.error, nil, "error")
        eq(r.value, "slept", "value")
    end)

    test("the main task blocked, then terminated", function()
        local pid = assert(process.spawn_monitored("app:blocker", "app:processes", process.pid(), "wait"))
        expect_msg("blocked")
        eq(process.terminate(pid), true, "terminate")
        local e = wait_exit(pid).result.error
        check(e, "error missing")
        contains(e:message(), "process terminated", "message")
    end)

    test("coroutine.running in the main task", function()
        local co, ismain = coroutine.running()
        eq(type(co), "thread", "thread")
        eq(ismain, false, "not reported as the main coroutine")
        eq(coroutine.isyieldable(), true, "yieldable")
    end)

    return finish()
end

return { main = main }
