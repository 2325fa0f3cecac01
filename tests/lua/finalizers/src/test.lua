-- ---- test helpers: the shared library app:testing (tests/lua/lib/testing.lua),
-- imported as `t`; local aliases keep the call sites short
local test, check, eq = t.test, t.check, t.eq
local expect_msg, wait_exit, finish = t.expect_msg, t.wait_exit, t.finish
-- ----------------------------------------------------------------------
local function main()
    local events = process.events()
    local me = process.pid()

    test("a finaliser runs when its process ends", function()
        local pid = process.spawn_monitored("app:child", "app:processes", me, "gc")
        check(pid, "spawn failed")
        local ev = wait_exit(pid)
        eq(ev.result and ev.result.value, "gc", "result")
        local m = expect_msg("finalized")
        eq(m:payload():data(), "gc", "finaliser payload")
    end)

    test("a state past its first block ends cleanly", function()
        local pid = process.spawn_monitored("app:child", "app:processes", me, "big")
        check(pid, "spawn failed")
        local ev = wait_exit(pid)
        eq(ev.result and ev.result.error, nil, "error")
        eq(ev.result and ev.result.value, 2000, "result")
    end)

    test("allocations dropped before the end", function()
        for i = 1, 20 do
            local pid = process.spawn_monitored("app:child", "app:processes", me, "churn")
            local ev = wait_exit(pid)
            eq(ev.result and ev.result.value, 20100, "result " .. i)
        end
    end)
    return finish()
end
return { main = main }
