-- mod_funcs_async: funcs.async and the Future (spec 10 §2.4). Every wait is
-- on a channel or a message; time limits are failure bounds only.

local function main()
    local me = process.pid()
    t.before_each(t.drain_inbox)

    -- Starts app:gated and returns its Future and the callee's pid once it
    -- runs (it then waits for "go").
    local function gated(v)
        local f = funcs.async("app:gated", me, v)
        t.check(f, "async returned a Future")
        local pid = t.expect_data("ready")
        return f, pid
    end

    t.test("success: one Payload, then closed", function()
        local f = funcs.async("app:add", 2, 3)
        t.eq(f:is_complete(), false, "not complete before a blocking point")
        t.eq(f:is_canceled(), false, "not canceled")
        local ch = f:channel()
        t.check(rawequal(ch, f:channel()), "channel(): the same object every call")
        t.check(rawequal(ch, f:response()), "response() is channel()")
        local p, ok = t.recv(ch)
        t.eq(ok, true, "received")
        t.eq(type(p), "userdata", "a Payload")
        t.eq(p:data(), 5, "payload data")
        local v2, ok2 = t.recv(ch)
        t.eq(v2, nil, "then nothing")
        t.eq(ok2, false, "then closed")
        t.eq(f:is_complete(), true, "complete")
        local r, err = f:result()
        t.eq(err, nil, "result: no error")
        t.eq(r:data(), 5, "result: the Payload")
        local e, failed = f:error()
        t.eq(e, nil, "error(): none")
        t.eq(failed, false, "error(): false")
        t.eq(f:cancel(), true, "cancel after completion")
        t.fails(errors.CANCELED, "canceled", "result after cancel: canceled first", f:result())
        t.eq(f:is_complete(), true, "is_complete stays true")
    end)

    t.test("a callee returning nothing: a Payload of nil", function()
        local f = funcs.async("app:nothing")
        local p = t.recv(f:channel())
        t.eq(type(p), "userdata", "a Payload")
        t.eq(p:data(), nil, "nil data")
        local r, err = f:result()
        t.eq(err, nil, "no error")
        t.eq(r:data(), nil, "result's data")
    end)

    t.test("failure: the error object, kind kept by result()", function()
        local f = funcs.async("app:fail", "it failed")
        local e = t.recv(f:channel())
        t.errkind(e, errors.CONFLICT, "it failed", "the channel's value")
        t.eq(e:details().why, "asked", "details kept")
        local _, ok = t.recv(f:channel())
        t.eq(ok, false, "closed after the error")
        t.eq(f:is_complete(), true, "complete")
        local err = t.fails(errors.CONFLICT, "it failed", "result()", f:result())
        t.eq(err:retryable(), true, "retryable kept")
        local e2, failed = f:error()
        t.eq(failed, true, "error(): true")
        t.errkind(e2, errors.INTERNAL, "it failed", "error(): re-reported as Internal")
        f = funcs.async("app:raise", "raised here")
        t.errkind(t.recv(f:channel()), errors.INTERNAL, "raised here", "a raise")
    end)

    t.test("targets: Invalid at once, NotFound as the outcome", function()
        t.fails(errors.INVALID, "function ID required", "empty", funcs.async(""))
        t.fails(errors.INVALID, "namespace required in function ID", "no namespace",
            funcs.async("add"))
        t.fails(errors.INVALID, "name required in function ID", "no name", funcs.async("app:"))
        t.raises(nil, "nil target", funcs.async, nil)
        local f, err = funcs.async("app:nope", 1)
        t.eq(err, nil, "an unknown target still gives a Future")
        local e = t.recv(f:channel())
        t.errkind(e, errors.NOT_FOUND, "no handler registered for target", "its outcome")
        t.eq(e:details().target, "app:nope", "details.target")
        t.fails(errors.NOT_FOUND, "no handler registered for target", "result()", f:result())
        t.eq(f:is_complete(), true, "complete")
    end)

    t.test("pending: result() is nil, nil until delivery", function()
        local f, pid = gated("late")
        t.eq(f:is_complete(), false, "not complete while the callee waits")
        local r, err = f:result()
        t.eq(r, nil, "no result yet")
        t.eq(err, nil, "no error yet")
        local e, failed = f:error()
        t.eq(e, nil, "error(): nothing yet")
        t.eq(failed, false, "error(): false yet")
        process.send(pid, "go")
        t.eq(t.recv(f:channel()):data(), "late", "then delivered")
        t.eq(f:is_complete(), true, "complete once delivered")
    end)

    t.test("the callee's pid and the wait in a select with a timeout", function()
        local f, pid = gated(49)
        t.check(pid:match("^{app:gated|0x%x+}$"), "the callee's own pid: " .. tostring(pid))
        process.send(pid, "go")
        local limit = time.after("10s")
        local r = channel.select({ f:channel():case_receive(), limit:case_receive() })
        t.check(r.channel == f:channel(), "r.channel == f:channel()")
        local p, err = f:result()
        t.eq(err, nil, "no error")
        t.eq(p:data(), 49, "the value")
    end)

    t.test("cancel: the channel closes, the outcome is dropped", function()
        local f, pid = gated("never seen")
        -- a receiver already waiting is woken by the cancel with nil, false
        local woke = channel.new(1)
        coroutine.spawn(function()
            local v, ok = f:channel():receive()
            woke:send({ v = v, ok = ok })
        end)
        t.eq(f:cancel(), true, "cancel() returns true")
        t.eq(f:cancel(), true, "and again")
        t.eq(f:is_canceled(), true, "canceled")
        t.eq(f:is_complete(), false, "is_complete stays false")
        local w = t.recv(woke)
        t.eq(w.v, nil, "the waiting receive: nil")
        t.eq(w.ok, false, "the waiting receive: false")
        t.fails(errors.CANCELED, "canceled", "result()", f:result())
        -- the callee runs on to its end; its outcome and EXIT never show
        local watcher = assert(process.spawn("app:watcher", "app:processes", pid, me))
        t.eq(t.expect_data("watching"), pid, "watcher ready")
        process.send(pid, "go")
        t.eq(t.expect_data("watched"), pid, "the callee ended")
        t.eq(f:is_complete(), false, "still not complete")
        local _, ok = f:channel():receive()
        t.eq(ok, false, "nothing delivered")
        t.no_event(process.event.EXIT, pid, "no EXIT of the callee reaches events()")
        t.check(watcher, "watcher pid")
    end)

    t.test("a Future nobody keeps: the call still runs to its end", function()
        funcs.async("app:send_back", me, "unkept")
        t.eq(t.expect_data("sent_back"), "unkept", "the callee ran")
    end)

    t.test("many calls at once, from several tasks", function()
        local futures = {}
        for i = 1, 20 do futures[i] = funcs.async("app:add", i, 1000) end
        local out = channel.new(5)
        for i = 1, 5 do
            coroutine.spawn(function()
                local f = funcs.async("app:add", i, 0)
                out:send(t.recv(f:channel()):data())
            end)
        end
        local sum = 0
        for i = 1, 20 do sum = sum + t.recv(futures[i]:channel()):data() end
        t.eq(sum, 20 * 1000 + 210, "twenty futures")
        sum = 0
        for _ = 1, 5 do sum = sum + t.recv(out) end
        t.eq(sum, 15, "five from spawned tasks")
        for i = 1, 20 do t.eq(futures[i]:is_complete(), true, "future " .. i .. " complete") end
    end)

    t.test("tostring", function()
        local f = funcs.async("app:add", 1, 1)
        t.contains(tostring(f), "funcs.Future", "tostring(future)")
        t.recv(f:channel())
    end)

    return t.finish()
end

return { main = main }
