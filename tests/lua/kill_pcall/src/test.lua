-- ---- test helpers: the shared library app:testing (tests/lua/lib/testing.lua),
-- imported as `t`; local aliases keep the call sites short
local test, eq, errkind = t.test, t.eq, t.errkind
local wait_exit, expect_msg, nothing, finish = t.wait_exit, t.expect_msg, t.nothing, t.finish
-- ----------------------------------------------------------------------
local function main()
    test("a terminate raised inside pcall ends the process", function()
        local pid = assert(process.spawn_monitored("app:spinner", "app:processes", process.pid()))
        expect_msg("spinning", "10s")
        process.terminate(pid)
        local ev = wait_exit(pid, "10s")
        eq(ev.result.value, nil, "result value")
        errkind(ev.result.error, errors.INTERNAL, "process terminated", "exit error")
        nothing(process.inbox(), "inbox after the exit")
    end)
    return finish()
end

return { main = main }
