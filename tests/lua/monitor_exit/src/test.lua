-- ---- test helpers: the shared library app:testing (tests/lua/lib/testing.lua),
-- imported as `t`; local aliases keep the call sites short
local test, check, eq, contains = t.test, t.check, t.eq, t.contains
local recv, expect_msg, wait_exit, finish = t.recv, t.expect_msg, t.wait_exit, t.finish
-- ----------------------------------------------------------------------
local function main()
    local events = process.events()
    local pids = {}
    for _, mode in ipairs({ "value", "raise", "nil_text", "err_obj", "err_plain", "nothing", "raise_obj" }) do
        local pid, err = process.spawn_monitored("app:child", "app:processes", mode)
        pids[mode] = pid
        test("spawn_monitored " .. mode, function()
            check(pid, "spawn failed: " .. tostring(err))
        end)
    end
    if t.failed > 0 then return finish() end

    test("normal return", function()
        local ev = wait_exit(pids.value)
        eq(ev.kind, "pid.exit", "kind")
        eq(ev.kind, process.event.EXIT, "kind constant")
        eq(ev.from, pids.value, "from")
        eq(type(ev.at), "number", "type(at)")
        check(math.abs(ev.at - os.time()) <= 60, "at is unix seconds: " .. tostring(ev.at))
        eq(type(ev.result), "table", "type(result)")
        eq(ev.result.error, nil, "result.error")
        eq(type(ev.result.value), "table", "type(result.value)")
        eq(ev.result.value.answer, 42, "result.value.answer")
        eq(ev.result.value.list[2], "b", "result.value.list[2]")
    end)
    test("raised error", function()
        local ev = wait_exit(pids.raise)
        eq(ev.from, pids.raise, "from")
        eq(ev.result.value, nil, "result.value")
        local e = ev.result.error
        check(e ~= nil, "result.error missing")
        eq(e:kind(), errors.INTERNAL, "kind")
        contains(e:message(), "kaboom", "message")
        contains(e:message(), "child.lua:6", "message position")
        contains(tostring(e), "kaboom", "tostring")
        contains("err: " .. e, "kaboom", "concatenation")
    end)
    test("return nil, text", function()
        local ev = wait_exit(pids.nil_text)
        eq(ev.result.value, nil, "result.value")
        local e = ev.result.error
        check(e ~= nil, "result.error missing")
        eq(e:message(), "text error", "message")
        eq(e:kind(), errors.INTERNAL, "kind")
        eq(e:retryable(), false, "retryable")
    end)
    test("return nil, error object", function()
        local ev = wait_exit(pids.err_obj)
        local e = ev.result.error
        check(e ~= nil, "result.error missing")
        eq(e:message(), "custom", "message")
        eq(e:kind(), errors.NOT_FOUND, "kind")
        eq(e:retryable(), true, "retryable")
    end)
    test("return nil, errors.new(text) has kind Internal", function()
        local ev = wait_exit(pids.err_plain)
        local e = ev.result.error
        check(e ~= nil, "result.error missing")
        eq(e:message(), "plain", "message")
        eq(e:kind(), errors.INTERNAL, "kind")
    end)
    test("return nothing", function()
        local ev = wait_exit(pids.nothing)
        eq(ev.result.error, nil, "result.error")
        eq(ev.result.value, nil, "result.value")
    end)
    test("raised error object keeps its kind", function()
        local ev = wait_exit(pids.raise_obj)
        local e = ev.result.error
        check(e ~= nil, "result.error missing")
        contains(e:message(), "raised obj", "message")
        eq(e:kind(), errors.INVALID, "kind")
    end)
    test("exactly one EXIT per child", function()
        local r = channel.select({ events:case_receive() }, true)
        check(r.default, "unexpected extra event: " .. tostring(r.value and r.value.kind))
    end)
    return finish()
end
return { main = main }
