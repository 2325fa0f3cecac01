-- ---- test helpers: the shared library app:testing (tests/lua/lib/testing.lua),
-- imported as `t`; local aliases keep the call sites short
local test, check, eq, contains = t.test, t.check, t.eq, t.contains
local recv, expect_msg, wait_exit, finish = t.recv, t.expect_msg, t.wait_exit, t.finish
-- ----------------------------------------------------------------------
-- Spec 03 §4 runs the child's chunk inside the spawn call; we run it when
-- the child first runs (docs/differences-from-wippy.md), so spawn returns a
-- pid at once and a raising chunk or a missing entry function is the child's
-- EXIT error, with the message and kind Wippy's spawn would have returned.
local function main()
    local events = process.events()

    test("chunk that raises: EXIT with 'failed to execute script' (Internal)", function()
        local pid, err = process.spawn_monitored("app:raiser", "app:processes")
        check(pid, "spawn failed: " .. tostring(err))
        local ev = wait_exit(pid)
        local e = ev.result.error
        check(e, "error missing")
        eq(e:kind(), errors.INTERNAL, "kind")
        contains(e:message(), "failed to execute script", "message")
        contains(e:message(), "chunk raised", "message")
        contains(e:message(), "raiser.lua:2", "position")
    end)

    test("chunk returning a number: EXIT with NotFound", function()
        local pid, err = process.spawn_monitored("app:badexport", "app:processes")
        check(pid, "spawn failed: " .. tostring(err))
        local e = wait_exit(pid).result.error
        check(e, "error missing")
        eq(e:kind(), errors.NOT_FOUND, "kind")
        contains(e:message(), 'method "main" not found', "message")
    end)

    test("missing method: EXIT with NotFound", function()
        local pid, err = process.spawn_monitored("app:nomethod", "app:processes")
        check(pid, "spawn failed: " .. tostring(err))
        local e = wait_exit(pid).result.error
        check(e, "error missing")
        eq(e:kind(), errors.NOT_FOUND, "kind")
        contains(e:message(), 'method "run" not found', "message")
    end)

    test("chunk returning a function ignores method", function()
        local pid, err = process.spawn_monitored("app:fnchunk", "app:processes", 21)
        check(pid, "spawn failed: " .. tostring(err))
        local ev = wait_exit(pid)
        eq(ev.result.error, nil, "error")
        eq(ev.result.value, 42, "value")
    end)

    test("top-level locals are per process", function()
        for i = 1, 3 do
            local pid = assert(process.spawn_monitored("app:counter", "app:processes"))
            local ev = wait_exit(pid)
            eq(ev.result.value, 1, "count in process " .. i)
        end
    end)
    return finish()
end
return { main = main }
