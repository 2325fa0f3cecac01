-- ---- test helpers: the shared library app:testing (tests/lua/lib/testing.lua),
-- imported as `t`; local aliases keep the call sites short
local test, check, eq, contains = t.test, t.check, t.eq, t.contains
local recv, expect_msg, wait_exit, finish = t.recv, t.expect_msg, t.wait_exit, t.finish
-- ----------------------------------------------------------------------
local function main()
    local inbox = process.inbox()
    local events = process.events()
    local N = 1000

    test(N .. " monitored processes report and exit", function()
        local pids = {}
        for i = 1, N do
            local pid, err = process.spawn_monitored("app:child", "app:processes", process.pid(), i)
            check(pid, "spawn " .. i .. " failed: " .. tostring(err))
            check(not pids[pid], "duplicate pid " .. tostring(pid))
            pids[pid] = i
        end
        local got_msgs, got_exits = 0, 0
        local seen = {}
        local deadline = time.after("60s")
        while got_msgs < N or got_exits < N do
            local r = channel.select({ inbox:case_receive(), events:case_receive(), deadline:case_receive() })
            if r.channel == deadline then
                error("timed out: " .. got_msgs .. " messages, " .. got_exits .. " exits")
            elseif r.channel == inbox then
                local i = r.value:payload():data()
                eq(pids[r.value:from()], i, "message from the right pid")
                check(not seen[i], "duplicate message " .. i)
                seen[i] = true
                got_msgs = got_msgs + 1
            else
                local ev = r.value
                eq(ev.kind, process.event.EXIT, "event kind")
                local i = pids[ev.from]
                check(i, "EXIT from an unknown pid " .. tostring(ev.from))
                eq(ev.result.error, nil, "error of " .. i)
                eq(ev.result.value, i * 2, "value of " .. i)
                pids[ev.from] = nil
                got_exits = got_exits + 1
            end
        end
    end)

    test("a chain of 200 spawning processes", function()
        assert(process.spawn("app:relay", "app:processes", process.pid(), 200, ""))
        local msg = expect_msg("token", "60s")
        eq(#msg:payload():data(), 200, "token length")
    end)
    return finish()
end
return { main = main }
