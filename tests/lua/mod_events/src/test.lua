-- mod_events: the event bus (spec 10 §3). Every wait is on a channel or a
-- message; time limits are failure bounds only.

local function main()
    local me = process.pid()
    t.before_each(t.drain_inbox)

    -- Sends an event on a system nobody else uses and waits for it on sub:
    -- everything this process sent before it has been routed by then.
    local fence_n = 0
    local function fence(sub)
        fence_n = fence_n + 1
        local f = assert(events.subscribe("fence." .. fence_n))
        assert(events.send("fence." .. fence_n, "k", "/p"))
        t.recv(f:channel())
        f:close()
        if sub then return sub end
    end

    t.test("module availability", function()
        t.eq(require("events"), events, "require('events')")
        assert(process.spawn("app:without", "app:processes", me))
        local w = t.expect_data("without")
        t.eq(w.global, true, "no global without modules: [events]")
        t.eq(w.ok, false, "require fails without it")
    end)

    t.test("subscribe and send: the event table", function()
        local sub = assert(events.subscribe("test.basic"))
        t.eq(tostring(sub), "events.Subscription{}", "tostring")
        local ch = sub:channel()
        t.check(rawequal(ch, sub:channel()), "channel(): the same object every call")
        local data = { id = 7, items = { "a", "b" } }
        t.eq(events.send("test.basic", "created", "/orders/7", data), true, "send returns true")
        data.id = 8 -- a copy was sent
        local ev = t.recv(ch)
        t.same(ev, { system = "test.basic", kind = "created", path = "/orders/7",
                     data = { id = 7, items = { "a", "b" } } }, "the event")
        t.eq(events.send("test.basic", "deleted", "/orders/7"), true, "without data")
        ev = t.recv(ch)
        t.eq(ev.kind, "deleted", "kind")
        t.eq(ev.data, nil, "data absent")
        t.eq(rawget(ev, "data"), nil, "no data key")
        t.eq(events.send("test.basic", "k", "/p", nil), true, "explicit nil data")
        t.eq(t.recv(ch).data, nil, "still absent")
        events.send("test.basic", "k", "/p", function() end)
        t.eq(t.recv(ch).data, nil, "a function arrives as nil")
        t.eq(events.send("nobody.listens", "k", "/p", 1), true, "no subscriber: still true")
        sub:close()
    end)

    t.test("argument errors", function()
        local sub, err = events.subscribe("")
        t.eq(sub, nil, "subscribe(''): nil")
        t.errkind(err, errors.INVALID, "system pattern is required", "subscribe('')")
        t.raises(nil, "subscribe(nil)", events.subscribe, nil)
        t.raises(nil, "subscribe({})", events.subscribe, {})
        t.raises(nil, "subscribe()", events.subscribe)
        t.raises(nil, "subscribe('x', {})", events.subscribe, "x", {})
        t.fails(errors.INVALID, "system is required", "send('')", events.send("", "k", "p"))
        t.fails(errors.INVALID, "kind is required", "send(kind '')", events.send("s", "", "p"))
        t.fails(errors.INVALID, "path is required", "send(path '')", events.send("s", "k", ""))
        t.fails(errors.INVALID, "system is required", "checked in order",
            events.send("", "", ""))
        t.raises(nil, "send(nil, ...)", events.send, nil, "k", "p")
        t.raises(nil, "send(s, nil, p)", events.send, "s", nil, "p")
        t.raises(nil, "send(s, k, nil)", events.send, "s", "k", nil)
        t.raises(nil, "type checks come first", events.send, "", nil, "p")
        local deep = {}
        local cur = deep
        for _ = 1, 200 do cur.next = {}; cur = cur.next end
        t.fails(errors.INVALID, "too deep", "data that cannot be copied",
            events.send("s", "k", "p", deep))
    end)

    t.test("patterns", function()
        local function got(system, kind, sends)
            local sub = assert(events.subscribe(system, kind))
            for _, s in ipairs(sends) do assert(events.send(s[1], s[2], "/p", s[1] .. "/" .. s[2])) end
            fence()
            local seen = {}
            while true do
                local r = channel.select({ sub:channel():case_receive() }, true)
                if r.default then break end
                seen[#seen + 1] = r.value.data
            end
            sub:close()
            return table.concat(seen, " ")
        end
        local sends = { { "orders", "created" }, { "orders.eu", "created" }, { "orders.eu", "deleted" },
                        { "ord", "x" }, { "a*b", "k" }, { "axb", "k" } }
        t.eq(got("orders", nil, sends), "orders/created", "exact system")
        t.eq(got("orders.*", nil, sends), "orders.eu/created orders.eu/deleted",
            "orders.* matches orders.eu, not orders")
        t.eq(got("ord*", nil, sends), "orders/created orders.eu/created orders.eu/deleted ord/x",
            "a prefix")
        t.eq(got("a*b", nil, sends), "a*b/k", "a * elsewhere is a plain character")
        t.eq(got("orders.eu", "created", sends), "orders.eu/created", "exact kind")
        t.eq(got("orders*", "del*", sends), "orders.eu/deleted", "a kind prefix")
        t.eq(got("orders.eu", "", sends), "orders.eu/created orders.eu/deleted", "kind ''")
        t.eq(got("orders.eu", "*", sends), "orders.eu/created orders.eu/deleted", "kind *")
        local all = got("*", nil, sends)
        for _, s in ipairs(sends) do t.contains(all, s[1] .. "/" .. s[2], "* sees " .. s[1]) end
    end)

    t.test("every matching subscription, in send order", function()
        local a = assert(events.subscribe("multi"))
        local b = assert(events.subscribe("multi", "k"))
        for i = 1, 50 do assert(events.send("multi", "k", "/seq", i)) end
        for i = 1, 50 do
            t.eq(t.recv(a:channel()).data, i, "a: event " .. i)
            t.eq(t.recv(b:channel()).data, i, "b: event " .. i)
        end
        -- each gets its own table
        assert(events.send("multi", "k", "/t", { 1 }))
        local ea, eb = t.recv(a:channel()), t.recv(b:channel())
        t.check(ea ~= eb and ea.data ~= eb.data, "a fresh table per subscription")
        a:close()
        b:close()
    end)

    t.test("between processes", function()
        local sub_pid = assert(process.spawn("app:subscriber", "app:processes", me, "cross.*", nil, 100))
        t.eq(t.expect_data("ready"), sub_pid, "subscriber ready (active when subscribe returned)")
        local mine = assert(events.subscribe("cross.a"))
        assert(process.spawn("app:sender", "app:processes", "cross.a", "tick", 100))
        local got = t.expect_data("got")
        t.eq(#got, 100, "the other process got every event")
        for i = 1, 100 do
            t.eq(got[i].data, i, "in send order: " .. i)
            t.eq(got[i].system, "cross.a", "system")
        end
        for i = 1, 100 do t.eq(t.recv(mine:channel()).data, i, "mine: " .. i) end
        mine:close()
    end)

    t.test("subscriptions in channel.select", function()
        local a = assert(events.subscribe("sel.a"))
        local b = assert(events.subscribe("sel.b"))
        local inbox = process.inbox()
        local got = channel.new(1)
        coroutine.spawn(function()
            local limit = time.after("10s")
            local r = channel.select({ a:channel():case_receive(), b:channel():case_receive(),
                                       inbox:case_receive(), limit:case_receive() })
            got:send({ b = r.channel == b:channel(), ev = r.value })
        end)
        assert(events.send("sel.b", "k", "/p", "for b"))
        local r = t.recv(got)
        t.eq(r.b, true, "the select took b's case")
        t.eq(r.ev.data, "for b", "b's event")
        a:close()
        b:close()
    end)

    t.test("close", function()
        local sub = assert(events.subscribe("close.me"))
        local woke = channel.new(1)
        coroutine.spawn(function()
            local v, ok = sub:channel():receive()
            woke:send({ v = v, ok = ok })
        end)
        t.eq(sub:close(), true, "close returns true")
        local w = t.recv(woke)
        t.eq(w.v, nil, "a blocked receive gets nil")
        t.eq(w.ok, false, "and false")
        t.eq(sub:close(), true, "close again: idempotent")
        assert(events.send("close.me", "k", "/p", 1))
        fence()
        local v, ok = sub:channel():receive()
        t.eq(ok, false, "nothing after close")
        t.eq(v, nil, "nil after close")
        -- events not yet received are dropped by close
        local sub2 = assert(events.subscribe("close.pending"))
        assert(events.send("close.pending", "k", "/p", 1))
        fence()
        sub2:close()
        local _, ok2 = sub2:channel():receive()
        t.eq(ok2, false, "a pending event is dropped")
    end)

    t.test("nothing is stored for later subscribers", function()
        assert(events.send("late", "k", "/p", "before"))
        local sub = assert(events.subscribe("late"))
        assert(events.send("late", "k", "/p", "after"))
        t.eq(t.recv(sub:channel()).data, "after", "only what was sent after subscribing")
        fence()
        t.nothing(sub:channel(), "nothing else")
        sub:close()
    end)

    t.test("a subscriber that fails ends alone", function()
        local pid = assert(process.spawn_monitored("app:failing", "app:processes", me))
        t.eq(t.expect_data("ready"), pid, "subscribed")
        local ev = t.wait_exit(pid)
        t.errkind(ev.result.error, nil, "the subscriber fails", "its own error")
        t.eq(events.send("anything", "k", "/p", 1), true, "sending goes on")
        local sub = assert(events.subscribe("still.works"))
        assert(events.send("still.works", "k", "/p", 2))
        t.eq(t.recv(sub:channel()).data, 2, "the bus goes on")
        sub:close()
    end)

    return t.finish()
end

return { main = main }
