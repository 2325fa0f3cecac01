-- ---- test helpers: the shared library app:testing (tests/lua/lib/testing.lua),
-- imported as `t`; local aliases keep the call sites short
local test, check, eq, contains = t.test, t.check, t.eq, t.contains
local recv, expect_msg, wait_exit, finish = t.recv, t.expect_msg, t.wait_exit, t.finish
-- ----------------------------------------------------------------------
-- 8 processes spinning in `while true do end` on the process host must not
-- keep a 9th process on the same host from answering.
local function main()
    local inbox = process.inbox()
    local SPINNERS = 8
    local spinners = {}
    for i = 1, SPINNERS do
        spinners[i] = assert(process.spawn_monitored("app:spinner", "app:processes", process.pid()))
    end
    test("all spinners start running", function()
        local seen = {}
        for _ = 1, SPINNERS do
            local msg = expect_msg("spinning", "20s")
            seen[msg:payload():data()] = true
        end
        for i = 1, SPINNERS do check(seen[spinners[i]], "spinner " .. i .. " never ran") end
    end)

    local ponger = assert(process.spawn_monitored("app:ponger", "app:processes"))
    test("a 9th process answers pings while the spinners run", function()
        for n = 1, 5 do
            eq(process.send(ponger, "ping", { reply_to = process.pid(), n = n }), true, "send ping")
            local msg = expect_msg("pong", "20s")
            eq(msg:payload():data(), n, "pong number")
        end
    end)
    test("the terminal process's own timers still fire", function()
        local t0 = time.now()
        time.sleep("20ms")
        check(time.now():sub(t0):milliseconds() < 10000, "sleep took too long")
    end)
    test("spinners can be terminated", function()
        for i = 1, SPINNERS do
            eq(process.terminate(spinners[i]), true, "terminate " .. i)
        end
        for i = 1, SPINNERS do
            local ev = wait_exit(spinners[i], "20s")
            check(ev.result.error, "terminated spinner has an error result")
            contains(ev.result.error:message(), "terminated", "message")
        end
    end)
    process.send(ponger, "quit")
    test("ponger exits normally", function()
        local ev = wait_exit(ponger)
        eq(ev.result.error, nil, "error")
    end)
    return finish()
end
return { main = main }
