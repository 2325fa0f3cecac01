-- ---- test helpers: the shared library app:testing (tests/lua/lib/testing.lua),
-- imported as `t`; local aliases keep the call sites short
local test, check, eq, contains = t.test, t.check, t.eq, t.contains
local recv, expect_msg, wait_exit, finish = t.recv, t.expect_msg, t.wait_exit, t.finish
-- ----------------------------------------------------------------------
local function main()
    local inbox = process.inbox()
    local N = 1000
    local senders = { "a", "b", "c" }
    local pids, last = {}, {}
    for _, tag in ipairs(senders) do
        pids[tag] = assert(process.spawn_monitored("app:child", "app:processes", process.pid(),
                                                   tag, N, tag == "c"))
        last[tag] = 0
    end
    test("per-sender order of " .. N .. " messages from " .. #senders .. " senders (one sends big payloads)", function()
        local deadline = time.after("30s")
        for _ = 1, N * #senders do
            local r = channel.select({ inbox:case_receive(), deadline:case_receive() })
            if r.channel == deadline then error("timed out; got " .. last.a .. "/" .. last.b .. "/" .. last.c) end
            local p = r.value:payload()
            local tag, i = p[1]:data(), p[2]:data()
            if tag == "c" and i % 3 == 0 then
                eq(#p[3]:data(), 70000, "big payload size")
            end
            check(last[tag], "unknown sender tag " .. tostring(tag))
            eq(r.value:from(), pids[tag], "from")
            eq(i, last[tag] + 1, "sequence of sender " .. tag)
            eq(r.value:topic(), (i % 2 == 0) and "even" or "odd", "topic")
            last[tag] = i
        end
    end)
    test("senders exit normally", function()
        for _, tag in ipairs(senders) do
            local ev = wait_exit(pids[tag])
            eq(ev.result.error, nil, "error of " .. tag)
            eq(ev.result.value, N, "value of " .. tag)
        end
    end)
    test("send to self keeps order", function()
        for i = 1, N do process.send(process.pid(), "self", i) end
        for i = 1, N do
            local msg = recv(inbox)
            eq(msg:payload():data(), i, "self sequence")
        end
    end)
    return finish()
end
return { main = main }
