-- ---- test helpers: the shared library app:testing (tests/lua/lib/testing.lua),
-- imported as `t`; local aliases keep the call sites short
local test, check, eq, contains = t.test, t.check, t.eq, t.contains
local recv, expect_msg, wait_exit, finish = t.recv, t.expect_msg, t.wait_exit, t.finish
-- ----------------------------------------------------------------------
-- Messages that arrive before process.inbox() was ever called are queued
-- (not dropped) and delivered in order once the inbox is subscribed.
local function main()
    local events = process.events()
    local N = 50
    local pid = assert(process.spawn_monitored("app:child", "app:processes", process.pid(), N))
    test("sender finished before the inbox exists", function()
        local ev = wait_exit(pid)
        eq(ev.result.error, nil, "child error")
    end)
    test("queued messages are delivered in order", function()
        local inbox = process.inbox()
        for i = 1, N do
            local msg = recv(inbox)
            eq(msg:topic(), "early", "topic")
            eq(msg:from(), pid, "from")
            eq(msg:payload():data(), i, "sequence")
        end
        local r = channel.select({ inbox:case_receive() }, true)
        check(r.default, "no extra messages")
    end)
    test("no further events", function()
        local r = channel.select({ events:case_receive(), default = true })
        eq(r.default, true, "default")
    end)
    return finish()
end
return { main = main }
