-- ---- test helpers: the shared library app:testing (tests/lua/lib/testing.lua),
-- imported as `t`; local aliases keep the call sites short
local test, check, eq, contains = t.test, t.check, t.eq, t.contains
local recv, expect_msg, wait_exit, finish = t.recv, t.expect_msg, t.wait_exit, t.finish
-- ----------------------------------------------------------------------
local function main()
    local events = process.events()

    test("coroutine.spawn returns a thread and ignores extra arguments", function()
        local got = channel.new(1)
        local th = coroutine.spawn(function(...) got:send(select("#", ...)) end, 1, 2, 3)
        eq(type(th), "thread", "type")
        eq(recv(got), 0, "argument count")
    end)

    test("tasks share upvalues and tables", function()
        local counter = 0
        local shared = {}
        local step = channel.new()
        local done = channel.new(3)
        for t = 1, 3 do
            coroutine.spawn(function()
                for i = 1, 100 do
                    counter = counter + 1
                    shared[#shared + 1] = t
                    if i % 10 == 0 then time.sleep(1) end -- a blocking point
                end
                done:send(t)
            end)
        end
        for _ = 1, 3 do recv(done) end
        eq(counter, 300, "counter")
        eq(#shared, 300, "shared table")
    end)

    test("tasks see globals of their process", function()
        shared_global_value = "set by main"
        local got = channel.new(1)
        coroutine.spawn(function() got:send(shared_global_value) end)
        eq(recv(got), "set by main", "global")
    end)

    test("error in a spawned task kills the process", function()
        local pid = assert(process.spawn_monitored("app:child", "app:processes", "task_error"))
        local ev = wait_exit(pid)
        eq(ev.result.value, nil, "value")
        local e = ev.result.error
        check(e, "result.error missing")
        contains(e:message(), "task died", "message")
        contains(e:message(), "child.lua:6", "position")
        eq(e:kind(), errors.INTERNAL, "kind")
    end)

    test("main return discards other tasks", function()
        local pid = assert(process.spawn_monitored("app:child", "app:processes", "main_returns"))
        local ev = wait_exit(pid, "5s")
        eq(ev.result.error, nil, "error")
        eq(ev.result.value, 7, "value")
    end)

    test("many tasks", function()
        local N = 500
        local done = channel.new()
        for i = 1, N do
            coroutine.spawn(function() done:send(i) end)
        end
        local sum = 0
        for _ = 1, N do sum = sum + recv(done) end
        eq(sum, N * (N + 1) // 2, "sum")
    end)
    return finish()
end
return { main = main }
