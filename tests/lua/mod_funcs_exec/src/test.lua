-- mod_funcs_exec: executors (funcs.new), call options (timeout, retry,
-- meta.options), context values and the ctx module, and process entries
-- called as functions (spec 10 §2.2, §2.5, §2.6). Every wait is on a
-- channel or a message; time limits are failure bounds only.

local function main()
    local me = process.pid()
    t.before_each(t.drain_inbox)

    local function attempts() return tonumber(env.get("ATTEMPTS")) end
    local function reset() assert(env.set("ATTEMPTS", "0")) end

    -- Waits until the callee pid has ended (its EXIT seen by a watcher);
    -- the test's own EXIT from it, if any, was routed before that.
    local function ended(pid)
        assert(process.spawn("app:watcher", "app:processes", pid, me))
        t.eq(t.expect_data("watching"), pid, "watcher ready")
        return function()
            process.send(pid, "go")
            t.eq(t.expect_data("watched"), pid, "the callee ended")
        end
    end

    t.test("executors: builders return new executors", function()
        local base = funcs.new()
        t.eq(tostring(base), "funcs.Executor{}", "tostring")
        t.eq(base:call("app:add", 1, 2), 3, "a bare executor calls")
        local a = base:with_context({ a = 1 })
        local b = base:with_context({ b = 2 })
        t.check(a ~= base and b ~= base, "new executors")
        t.same(base:call("app:ctx_all"), {}, "the base has no context")
        t.same(a:call("app:ctx_all"), { a = 1 }, "a's context")
        t.same(b:call("app:ctx_all"), { b = 2 }, "b's context")
        local ab = a:with_context({ a = "again", c = { 3 }, [1] = "not a string key" })
        t.same(ab:call("app:ctx_all"), { a = "again", c = { 3 } }, "later keys override")
        local f = ab:async("app:ctx_all")
        t.same(t.recv(f:channel()):data(), { a = "again", c = { 3 } }, "async with a context")
        t.raises(nil, "with_context(nil)", base.with_context, base, nil)
        t.raises(nil, "with_context('x')", base.with_context, base, "x")
        t.raises(nil, "with_options(nil)", base.with_options, base, nil)
        t.raises("not supported", "with_actor", base.with_actor, base, {})
        t.raises("not supported", "with_scope", base.with_scope, base, {})
        t.raises(nil, "call on a non-executor", base.call, {}, "app:add", 1, 2)
    end)

    t.test("executors: targets as for funcs.call", function()
        local e = funcs.new()
        t.fails(errors.INVALID, "function ID required", "empty", e:call(""))
        t.fails(errors.INVALID, "name required in function ID", "no name", e:async("app:"))
        t.fails(errors.NOT_FOUND, "no handler registered for target", "unknown",
            e:call("app:nope"))
        t.raises(nil, "nil target", e.call, e, nil)
    end)

    t.test("context: the ctx module", function()
        t.same(ctx.all(), {}, "a process that was not called has none")
        t.fails(errors.NOT_FOUND, "a", "ctx.get of a missing key", ctx.get("a"))
        t.fails(errors.INVALID, nil, "ctx.get('')", ctx.get(""))
        t.raises(nil, "ctx.get(nil)", ctx.get, nil)
        local e = funcs.new():with_context({ user = "ann", n = 7 })
        t.same(e:call("app:ctx_get", "user"), { value = "ann" }, "ctx.get in the callee")
        t.same(e:call("app:ctx_get", "nope"), { kind = errors.NOT_FOUND,
            message = "context value not found: nope" }, "a missing key in the callee")
        t.eq(e:call("app:ctx_get", "").kind, errors.INVALID, "an empty key in the callee")
        t.same(funcs.call("app:ctx_all"), {}, "funcs.call passes none")
    end)

    t.test("context: inherited by nested calls", function()
        local r = funcs.new():with_context({ a = "outer", keep = true }):call("app:ctx_nested")
        t.same(r.plain, { a = "outer", keep = true }, "a plain nested call inherits")
        t.same(r.more, { a = "overridden", keep = true, added = "inner" },
            "an executor's context over the inherited one")
    end)

    t.test("options: timeout (milliseconds or a duration)", function()
        local e = funcs.new():with_options({ timeout = 20 })
        t.eq(e:call("app:add", 2, 2), 4, "a call within its timeout")
        local v, err = e:call("app:gated", me, "late")
        t.eq(v, nil, "timed out: nil")
        t.errkind(err, errors.TIMEOUT, "timed out", "timed out: Timeout")
        t.contains(err:message(), "app:gated", "the message names the target")
        -- the callee ran on; its EXIT is not the caller's business
        local pid = t.expect_data("ready")
        local wait = ended(pid)
        wait()
        t.no_event(process.event.EXIT, pid, "no EXIT of the timed-out callee")
        local f = funcs.new():with_options({ timeout = "20ms" }):async("app:gated", me, "x")
        pid = t.expect_data("ready")
        t.errkind(t.recv(f:channel()), errors.TIMEOUT, nil, "a Future's timeout")
        t.eq(f:is_complete(), true, "complete")
        t.fails(errors.TIMEOUT, nil, "result()", f:result())
        wait = ended(pid)
        wait()
    end)

    t.test("options: with_options replaces, bad values are Invalid", function()
        local bad = funcs.new():with_options({ timeout = "soon" })
        t.fails(errors.INVALID, "timeout", "a timeout that is no duration", bad:call("app:add", 1, 1))
        t.fails(errors.INVALID, "timeout", "async too", bad:async("app:add", 1, 1))
        t.eq(bad:with_options({}):call("app:add", 1, 1), 2, "replaced: the bad value is gone")
        t.fails(errors.INVALID, "timeout", "negative",
            funcs.new():with_options({ timeout = -5 }):call("app:add", 1, 1))
        t.fails(errors.INVALID, "timeout", "a table",
            funcs.new():with_options({ timeout = {} }):call("app:add", 1, 1))
        t.fails(errors.INVALID, "retry", "retry not a table",
            funcs.new():with_options({ retry = 3 }):call("app:add", 1, 1))
        t.fails(errors.INVALID, "max_attempts", "max_attempts not a number",
            funcs.new():with_options({ retry = { max_attempts = "x" } }):call("app:add", 1, 1))
        t.fails(errors.INVALID, "retry_kinds", "kinds not strings",
            funcs.new():with_options({ retry = { retry_kinds = { 1 } } }):call("app:add", 1, 1))
        t.eq(funcs.new():with_options({ unknown = "passed over", timeout = 0 }):call("app:add", 1, 2),
            3, "other keys and timeout 0 (none)")
        -- the executor keeps its own copy of the table
        local opts = { timeout = 20 }
        local e = funcs.new():with_options(opts)
        opts.timeout = "nonsense"
        t.eq(e:call("app:add", 1, 1), 2, "a later change of the table is not seen")
    end)

    t.test("options: the entry's meta.options are the defaults", function()
        t.fails(errors.TIMEOUT, nil, "meta timeout", funcs.call("app:gated_20ms", me, 1))
        local wait = ended(t.expect_data("ready"))
        wait()
        t.fails(errors.INVALID, "timeout", "a bad meta timeout", funcs.call("app:bad_meta_timeout", 1, 1))
        -- the executor's options over the entry's
        local f = funcs.new():with_options({ timeout = 0 }):async("app:gated_20ms", me, "no limit")
        local pid = t.expect_data("ready")
        process.send(pid, "go")
        t.eq(t.recv(f:channel()):data(), "no limit", "the executor's timeout wins")
        t.eq(funcs.new():with_options({ timeout = 0 }):call("app:bad_meta_timeout", 1, 1), 2,
            "the executor's value replaces the entry's bad one")
    end)

    t.test("options: retry", function()
        local function retry(r) return funcs.new():with_options({ retry = r }) end
        local fast = { max_attempts = 3, initial_delay = 1, max_delay = "5ms", jitter = 0 }
        reset()
        t.eq(retry(fast):call("app:flaky", 3, errors.UNAVAILABLE, true), 3,
            "succeeds at the third attempt")
        t.eq(attempts(), 3, "three attempts")
        reset()
        local err = t.fails(errors.UNAVAILABLE, "attempt 3 failed", "attempts run out",
            retry(fast):call("app:flaky", 9, errors.UNAVAILABLE, true))
        t.eq(attempts(), 3, "max_attempts counts every attempt")
        reset()
        t.fails(errors.UNAVAILABLE, "attempt 1 failed", "retryable() == false: never",
            retry(fast):call("app:flaky", 9, errors.UNAVAILABLE, false))
        t.eq(attempts(), 1, "one attempt")
        for _, kind in ipairs({ errors.INVALID, errors.PERMISSION_DENIED, errors.INTERNAL }) do
            reset()
            t.fails(kind, "attempt 1 failed", kind .. " is not retried by default",
                retry(fast):call("app:flaky", 9, kind, nil))
            t.eq(attempts(), 1, kind .. ": one attempt")
        end
        reset()
        t.eq(retry(fast):call("app:flaky", 2, errors.NOT_FOUND, nil), 2,
            "an error of unknown retryability is retried")
        reset()
        local only = { max_attempts = 3, initial_delay = 1, retry_kinds = { errors.CONFLICT } }
        t.fails(errors.UNAVAILABLE, nil, "retry_kinds: another kind",
            retry(only):call("app:flaky", 9, errors.UNAVAILABLE, true))
        t.eq(attempts(), 1, "retry_kinds: not retried")
        reset()
        t.eq(retry(only):call("app:flaky", 2, errors.CONFLICT, true), 2, "retry_kinds: retried")
        reset()
        local skip = { max_attempts = 3, initial_delay = 1, skip_kinds = { errors.UNAVAILABLE } }
        t.fails(errors.UNAVAILABLE, nil, "skip_kinds", retry(skip):call("app:flaky", 9,
            errors.UNAVAILABLE, true))
        t.eq(attempts(), 1, "skip_kinds: not retried")
        reset()
        t.fails(errors.UNAVAILABLE, nil, "max_attempts 1: no retry",
            retry({ max_attempts = 1 }):call("app:flaky", 9, errors.UNAVAILABLE, true))
        t.eq(attempts(), 1, "one attempt")
        reset()
        local f = retry(fast):async("app:flaky", 2, errors.UNAVAILABLE, true)
        t.eq(t.recv(f:channel()):data(), 2, "async retries too")
        t.check(err, "kept")
    end)

    t.test("process entries called as functions (meta.default_host)", function()
        t.eq(funcs.call("app:proc_add", 20, 22), 42, "meta.default_host")
        t.fails(errors.CONFLICT, "proc failed", "an error result",
            funcs.call("app:proc_fail", "proc failed"))
        local f = funcs.async("app:proc_add", 1, 2)
        t.eq(t.recv(f:channel()):data(), 3, "async")
        t.fails(errors.NOT_FOUND, "no handler registered for target", "no default_host",
            funcs.call("app:proc_no_host", 1, 2))
        t.fails(errors.NOT_FOUND, "host not found", "an unknown default_host",
            funcs.call("app:proc_bad_host", 1, 2))
    end)

    t.test("a process entry callee gets CANCEL when its caller goes", function()
        local caller = assert(process.spawn("app:caller", "app:processes", me))
        local callee = t.expect_data("callee")
        t.check(callee:match("^{app:processes|0x%x+}$"), "runs on its default host: " .. callee)
        assert(process.terminate(caller))
        local ev = t.expect_data("callee_event")
        t.eq(ev.kind, process.event.CANCEL, "a CANCEL")
        t.eq(ev.reason, "caller context canceled", "its reason")
    end)

    return t.finish()
end

return { main = main }
