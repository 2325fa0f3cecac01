-- mod_funcs: funcs.call with function.lua entries (spec 05 §9, 01 §4.2).

local function main()
    local me = process.pid()

    t.test("module availability", function()
        t.eq(require("funcs"), funcs, "require('funcs')")
        t.eq(type(funcs.call), "function", "funcs.call")
    end)

    t.test("call: the first return value is the result", function()
        local v, err = funcs.call("app:add", 2, 3)
        t.eq(v, 5, "2 + 3")
        t.eq(err, nil, "no error")
        v = funcs.call("app:fn_echo", "a", nil, { k = { 1 } }, true)
        t.eq(v.n, 4, "argument count")
        t.eq(v[1], "a", "arg 1")
        t.eq(v[2], nil, "arg 2")
        t.same(v[3], { k = { 1 } }, "arg 3")
        t.eq(v[4], true, "arg 4")
        v, err = funcs.call("app:fn_nothing")
        t.eq(v, nil, "nothing returned")
        t.eq(err, nil, "no error when nothing is returned")
        v = funcs.call("app:fn_returns_table")
        t.check(rawequal(v.self, v), "cycle kept in the result")
        t.check(rawequal(v.a, v.b), "shared table kept in the result")
    end)

    t.test("call: arguments are copied", function()
        local arg = { n = 1 }
        local v = funcs.call("app:fn_mutate", arg)
        t.eq(v.changed, true, "the function changed its copy")
        t.eq(arg.changed, nil, "the caller's table is unchanged")
        t.check(v ~= arg, "the result is another table")
    end)

    t.test("call: second return values (spec 10 §2.3)", function()
        local err = t.fails(errors.INTERNAL, "string second return", "nil, 'text'",
            funcs.call("app:fn_str_err"))
        t.eq(err:message(), "string second return", "the text is the message")
        t.eq(err:retryable(), false, "a text error is not retryable")
        err = t.fails(errors.NOT_FOUND, "object second return", "nil, err",
            funcs.call("app:fn_obj_err"))
        t.eq(err:details().id, 7, "details kept")
        err = t.fails(errors.INTERNAL, "kind left empty", "an error without kind",
            funcs.call("app:fn_empty_kind"))
        t.eq(err:retryable(), true, "retryable kept")
        t.fails(errors.INTERNAL, "error despite a value", "value, 'text'",
            funcs.call("app:fn_val_str_err"))
        local v, e2 = funcs.call("app:fn_false_second")
        t.eq(v, "v", "second value false is ignored")
        t.eq(e2, nil, "no error with false")
        v, e2 = funcs.call("app:fn_num_second")
        t.eq(v, "v", "second value number is ignored")
        t.eq(e2, nil, "no error with a number")
    end)

    t.test("call: raised errors", function()
        local err = t.fails(errors.INTERNAL, "function raised", "raised string",
            funcs.call("app:fn_raise"))
        t.contains(err:message(), "fns.lua:", "the chunk:line prefix")
        err = t.fails(errors.CONFLICT, "raised object", "raised error object",
            funcs.call("app:fn_raise_obj"))
        t.eq(err:retryable(), true, "retryable kept")
        t.eq(process.pid(), me, "the caller is unaffected")
        -- a callee failure never raises in the caller: pcall sees a normal return
        local ok, v, e = pcall(funcs.call, "app:fn_raise")
        t.eq(ok, true, "pcall: no error raised")
        t.eq(v, nil, "pcall: nil value")
        t.errkind(e, errors.INTERNAL, "function raised", "pcall: the error returned")
    end)

    t.test("call: targets (spec 10 §2.1)", function()
        t.fails(errors.INVALID, "function ID required", "empty id", funcs.call(""))
        local err = t.fails(errors.INVALID, nil, "id without namespace", funcs.call("add"))
        t.eq(err:message(), "namespace required in function ID", "no namespace message")
        t.fails(errors.INVALID, "namespace required in function ID", "empty namespace",
            funcs.call(":add"))
        err = t.fails(errors.INVALID, nil, "id with an empty name", funcs.call("app:"))
        t.eq(err:message(), "name required in function ID", "no name message")
        t.raises(nil, "nil target", funcs.call, nil)
        t.raises(nil, "table target", funcs.call, {})
        t.raises(nil, "no target", funcs.call)
        -- only the argument errors are raised: pcall catches them
        local ok = pcall(funcs.call, true)
        t.eq(ok, false, "a boolean target raises")
        for _, id in ipairs({ "app:nope", "app:a_process", "app:helpers", "app:terminal",
                              "nope:add" }) do
            err = t.fails(errors.NOT_FOUND, "no handler registered for target", id,
                funcs.call(id, 1, 2))
            t.eq(err:message(), "no handler registered for target", id .. ": message")
            t.eq(err:details().target, id, id .. ": details.target")
        end
    end)

    t.test("call: a function that cannot start is not a handler", function()
        local err = t.fails(errors.NOT_FOUND, "no handler registered for target",
            "missing method", funcs.call("app:fn_nomethod"))
        t.eq(err:details().target, "app:fn_nomethod", "details.target")
        t.contains(err:details().error, "does_not_exist", "details.error: the cause")
        err = t.fails(errors.NOT_FOUND, "no handler registered for target", "failing chunk",
            funcs.call("app:fn_bad_chunk"))
        t.contains(err:details().error, "the chunk fails", "details.error of the chunk")
    end)

    t.test("call: the callee's modules, not the caller's", function()
        -- the test process lists no json; the function that lists it has it
        t.eq(json, nil, "the caller has no json")
        t.eq(funcs.call("app:fn_uses_json", { 3 }), "[3]", "json in the function")
        local err = t.fails(errors.INTERNAL, "json", "a function that lists no json",
            funcs.call("app:fn_no_json"))
        t.contains(err:message(), "nil", "json is nil there")
    end)

    t.test("a call has its own pid", function()
        local v = funcs.call("app:fn_pid")
        t.eq(type(v.pid), "string", "pid is a string")
        t.check(v.pid:match("^{.+|0x%x+}$"), "pid format: " .. tostring(v.pid))
        t.neq(v.pid, me, "not the caller's pid")
        local v2 = funcs.call("app:fn_pid")
        t.neq(v2.pid, v.pid, "each call has its own pid")
        -- and it can send: the message comes from the call's pid
        local fpid, err = funcs.call("app:fn_send_back", me)
        t.eq(err, nil, "send_back error")
        local msg = t.expect_msg("from_fn")
        t.eq(msg:payload():data(), fpid, "payload is the call's pid")
        t.eq(msg:from(), fpid, "message from the call's pid")
    end)

    t.test("each call runs in a fresh environment", function()
        t.eq(funcs.call("app:fn_counter"), 1, "first call")
        t.eq(funcs.call("app:fn_counter"), 1, "second call")
        t.eq(calls, nil, "no leak into the caller")
    end)

    t.test("a function's own modules and imports", function()
        t.eq(funcs.call("app:fn_uses_json", { 1, 2 }), "[1,2]", "json in the function")
        t.eq(funcs.call("app:fn_uses_lib", "hi"), "HI!|HI!", "library import in the function")
        t.eq(funcs.call("app:fn_nested", 20, 22), 42, "funcs.call inside a function")
    end)

    t.test("call blocks only the calling task", function()
        local ch = channel.new(1)
        coroutine.spawn(function() ch:send("task ran") end)
        t.eq(funcs.call("app:fn_sleepy", "20ms"), "slept", "sleepy result")
        local r = channel.select({ ch:case_receive() }, true)
        t.eq(r.value, "task ran", "the other task ran during the call")
    end)

    t.test("calls from another process and from spawned tasks", function()
        local out = channel.new(3)
        for i = 1, 3 do
            coroutine.spawn(function() out:send(funcs.call("app:add", i, 100)) end)
        end
        local sum = 0
        for _ = 1, 3 do sum = sum + t.recv(out) end
        t.eq(sum, 306, "three concurrent calls")
        local pid = assert(process.spawn_monitored("app:caller", "app:processes"))
        local r = t.wait_exit(pid).result
        t.eq(r.error, nil, "caller process error")
        t.eq(r.value, 9, "call from another process")
    end)

    return t.finish()
end

return { main = main }
