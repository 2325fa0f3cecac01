-- preemption.lua: the common body of the preemption cases, a library they
-- import as `p`. 8 processes spinning without a blocking point, in the
-- given modes (preempt_spinner.lua), must not keep a 9th process on the
-- same host (preempt_ponger.lua), nor the terminal process, from running,
-- and can be terminated.
local test, check, eq = t.test, t.check, t.eq
local expect_msg, wait_exit, finish = t.expect_msg, t.wait_exit, t.finish

local M = {}

function M.run(MODES)
    local inbox = process.inbox()
    local SPINNERS = 8
    local spinners = {}
    for i = 1, SPINNERS do
        spinners[i] = assert(process.spawn_monitored("app:spinner", "app:processes",
            process.pid(), MODES[(i % #MODES) + 1]))
    end
    test("all spinners start running", function()
        for _ = 1, SPINNERS do expect_msg("spinning", "10s") end
    end)
    local ponger = assert(process.spawn_monitored("app:ponger", "app:processes"))
    test("a 9th process answers pings while the spinners run", function()
        for n = 1, 3 do
            eq(process.send(ponger, "ping", { reply_to = process.pid(), n = n }), true, "send ping")
            eq(expect_msg("pong", "10s"):payload():data(), n, "pong number")
        end
    end)
    test("spinners can be terminated", function()
        for i = 1, SPINNERS do process.terminate(spinners[i]) end
        for i = 1, SPINNERS do
            local ev = wait_exit(spinners[i], "10s")
            check(ev.result.error, "terminated spinner has an error result")
        end
    end)
    process.send(ponger, "quit")
    return finish()
end

return M
