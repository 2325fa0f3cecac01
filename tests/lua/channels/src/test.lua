-- ---- test helpers: the shared library app:testing (tests/lua/lib/testing.lua),
-- imported as `t`; local aliases keep the call sites short
local test, check, eq, contains = t.test, t.check, t.eq, t.contains
local recv, expect_msg, wait_exit, finish = t.recv, t.expect_msg, t.wait_exit, t.finish
-- ----------------------------------------------------------------------
local function main()
    test("unbuffered send/receive between tasks", function()
        local ch = channel.new()
        local done = channel.new(1)
        coroutine.spawn(function()
            for i = 1, 5 do ch:send(i) end
            ch:send(nil)        -- nil is a value within a process
            done:send("sent")
        end)
        for i = 1, 5 do
            local v, ok = recv(ch)
            eq(v, i, "value")
            eq(ok, true, "ok")
        end
        local v, ok = recv(ch)
        eq(v, nil, "nil value")
        eq(ok, true, "ok for nil value")
        eq(recv(done), "sent", "sender finished")
    end)

    test("unbuffered send blocks until received", function()
        local ch = channel.new(0)
        local log = {}
        coroutine.spawn(function()
            log[#log + 1] = "before send"
            ch:send("x")
            log[#log + 1] = "after send"
        end)
        -- without a receiver the task cannot have completed its send
        eq(log[2], nil, "send completed without a receiver")
        eq(recv(ch), "x", "value")
    end)

    test("buffered channel does not block until full", function()
        local ch = channel.new(3)
        ch:send("a")
        ch:send("b")
        ch:send("c")
        local r = channel.select({ ch:case_send("d") }, true)
        eq(r.default, true, "send to a full buffer is not ready")
        eq(ch:receive(), "a", "FIFO 1")
        eq(ch:receive(), "b", "FIFO 2")
        r = channel.select({ ch:case_send("d") }, true)
        eq(r.default, nil, "send ready after space was made")
        eq(r.channel, ch, "select send channel")
        eq(r.value, "d", "select send value")
        eq(r.ok, true, "select send ok")
        eq(ch:receive(), "c", "FIFO 3")
        eq(ch:receive(), "d", "FIFO 4")
    end)

    test("buffered producer/consumer tasks", function()
        local ch = channel.new(4)
        local results = channel.new(1)
        local N = 200
        coroutine.spawn(function()
            for i = 1, N do ch:send(i) end
            ch:close()
        end)
        coroutine.spawn(function()
            local sum, count = 0, 0
            while true do
                local v, ok = ch:receive()
                if not ok then break end
                sum = sum + v
                count = count + 1
            end
            results:send({ sum = sum, count = count })
        end)
        local r = recv(results)
        eq(r.count, N, "count")
        eq(r.sum, N * (N + 1) // 2, "sum")
    end)

    test("close semantics", function()
        local ch = channel.new(2)
        ch:send(1)
        ch:send(2)
        ch:close()
        local v, ok = ch:receive()
        eq(v, 1, "buffered 1 after close") eq(ok, true, "ok 1")
        v, ok = ch:receive()
        eq(v, 2, "buffered 2 after close") eq(ok, true, "ok 2")
        v, ok = ch:receive()
        eq(v, nil, "closed and empty") eq(ok, false, "ok after drain")
        v, ok = ch:receive()
        eq(ok, false, "still closed")
        ch:close() -- closing twice is a no-op
        local sent, err = pcall(ch.send, ch, 3)
        eq(sent, false, "send on closed channel raises")
        contains(err, "send on closed channel", "error")
        local r = channel.select({ ch:case_receive() })
        eq(r.channel, ch, "select on closed channel")
        eq(r.ok, false, "select ok on closed channel")
        eq(r.value, nil, "select value on closed channel")
    end)

    test("close wakes blocked receivers", function()
        local ch = channel.new()
        local out = channel.new(2)
        for i = 1, 2 do
            coroutine.spawn(function()
                local v, ok = ch:receive()
                out:send({ v = v, ok = ok })
            end)
        end
        ch:close()
        for i = 1, 2 do
            local r = recv(out)
            eq(r.v, nil, "value")
            eq(r.ok, false, "ok")
        end
    end)

    test("select takes the first ready case in array order", function()
        local a, b, c = channel.new(1), channel.new(1), channel.new(1)
        b:send("b")
        c:send("c")
        local r = channel.select({ a:case_receive(), b:case_receive(), c:case_receive() })
        eq(r.channel, b, "first ready is b")
        eq(r.value, "b", "value")
        eq(r.ok, true, "ok")
        b:send("b2")
        r = channel.select({ c:case_receive(), b:case_receive() })
        eq(r.channel, c, "c listed first")
        eq(r.value, "c", "value c")
        r = channel.select({ c:case_receive(), b:case_receive() })
        eq(r.channel, b, "then b")
        eq(r.value, "b2", "value b2")
        -- withdrawn cases consume nothing
        eq(channel.select({ a:case_receive(), b:case_receive() }, true).default, true, "all empty")
    end)

    test("select blocks until another task sends", function()
        local a, b = channel.new(), channel.new()
        coroutine.spawn(function() b:send("from task") end)
        local r = channel.select({ a:case_receive(), b:case_receive() })
        eq(r.channel, b, "channel")
        eq(r.value, "from task", "value")
        eq(r.ok, true, "ok")
    end)

    test("select send case to a waiting receiver", function()
        local ch = channel.new()
        local got = channel.new(1)
        coroutine.spawn(function() got:send(ch:receive()) end)
        local r = channel.select({ ch:case_send("v") })
        eq(r.channel, ch, "channel")
        eq(r.value, "v", "value")
        eq(recv(got), "v", "receiver got it")
    end)

    test("select default as key", function()
        local a = channel.new(1)
        local r = channel.select({ a:case_receive(), default = true })
        eq(r.default, true, "default")
        eq(r.ok, true, "ok")
        eq(r.channel, nil, "channel")
        eq(r.value, nil, "value")
        a:send(5)
        r = channel.select({ a:case_receive(), default = true })
        eq(r.default, nil, "ready case wins over default")
        eq(r.value, 5, "value")
    end)

    test("select default as second argument", function()
        local a = channel.new()
        local r = channel.select({ a:case_receive() }, true)
        eq(r.default, true, "default")
        eq(r.ok, true, "ok")
        eq(r.channel, nil, "channel")
    end)

    test("select with a time.after timeout", function()
        local never = channel.new()
        local timeout = time.after("30ms")
        local r = channel.select({ never:case_receive(), timeout:case_receive() })
        eq(r.channel, timeout, "timeout channel wins")
        eq(r.ok, true, "ok")
        eq(type(r.value), "userdata", "fire time value")
    end)

    -- A blocking select keeps the cases its first pass found for the
    -- second (chan.c, up to 8): with a closed channel's send case (never
    -- ready), a value that is no case, and with more cases than that.
    test("blocking select: a closed send case and a value that is no case", function()
        local closed, other, ready = channel.new(), channel.new(), channel.new()
        closed:close()
        coroutine.spawn(function() ready:send("late") end)
        local r = channel.select({ closed:case_send(1), "not a case", other:case_receive(),
                                   ready:case_receive() })
        eq(r.channel, ready, "the ready case's channel")
        eq(r.value, "late", "value")
        eq(r.ok, true, "ok")
    end)

    test("blocking select over more than eight cases", function()
        local list, chans = {}, {}
        for i = 1, 12 do
            chans[i] = channel.new()
            list[#list + 1] = chans[i]:case_receive()
            if i == 5 then list[#list + 1] = 42 end -- no case
        end
        local closed = channel.new()
        closed:close()
        list[#list + 1] = closed:case_send("x")
        coroutine.spawn(function() chans[11]:send("eleven") end)
        local r = channel.select(list)
        eq(r.channel, chans[11], "the ready case's channel")
        eq(r.value, "eleven", "value")
        coroutine.spawn(function() chans[2]:send("two") end)
        r = channel.select(list)
        eq(r.channel, chans[2], "again, another case")
        eq(r.value, "two", "value")
    end)

    -- Several tasks of one process blocked at once (receive, send, a select
    -- with a send case never taken), each completed by another, round after
    -- round: every wait record is its own task's until completed.
    test("blocking operations of several tasks at once, again and again", function()
        local a, b, c, d, e = channel.new(), channel.new(), channel.new(), channel.new(), channel.new()
        local done = channel.new(2)
        for round = 1, 20 do
            local got_c, sent_d
            coroutine.spawn(function() got_c = c:receive(); done:send(1) end)  -- may block
            coroutine.spawn(function() sent_d = d:send(round); done:send(1) end) -- may block
            coroutine.spawn(function()
                eq(d:receive(), round, "the blocked send's value")
                c:send("c" .. round)
                if round % 2 == 0 then a:send(round) else b:send(-round) end
            end)
            -- e's send case is never taken: a waiting sender's value is held too
            local r = channel.select({ a:case_receive(), b:case_receive(), e:case_send("never") })
            if round % 2 == 0 then
                check(r.channel == a and r.value == round, "round " .. round .. ": a")
            else
                check(r.channel == b and r.value == -round, "round " .. round .. ": b")
            end
            done:receive()
            done:receive()
            eq(got_c, "c" .. round, "the blocked receive's value")
            eq(sent_d, true, "the blocked send's result")
        end
    end)

    test("select over a cases table with a metatable", function()
        local a = channel.new()
        local r = channel.select(setmetatable({ a:case_receive() }, { __index = { default = true } }))
        eq(r.default, true, "default through __index")
        local b = channel.new(1)
        b:send("x")
        r = channel.select(setmetatable({ b:case_receive() }, { __len = function() return 0 end }),
                           true)
        eq(r.default, true, "__len: no cases")
        r = channel.select({ b:case_receive(), default = true })
        eq(r.value, "x", "a raw default field, a ready case first")
    end)

    test("channel identity", function()
        local a = channel.new(1)
        a:send(1)
        local r = channel.select({ a:case_receive() })
        check(rawequal(r.channel, a), "r.channel is the same object")
        check(a ~= channel.new(1), "different channels differ")
    end)
    return finish()
end
return { main = main }
