-- ---- test helpers: the shared library app:testing (tests/lua/lib/testing.lua),
-- imported as `t`; local aliases keep the call sites short
local test, check, eq, contains = t.test, t.check, t.eq, t.contains
local recv, expect_msg, wait_exit, finish = t.recv, t.expect_msg, t.wait_exit, t.finish
-- ----------------------------------------------------------------------
-- Spawn arguments are not limited to what fits the initial Lua stack of the
-- child's main thread (LUA_MINSTACK): 10..250 arguments must all arrive.
local function main()
    for _, n in ipairs({ 10, 40, 50, 100, 250 }) do
        test("spawn with " .. n .. " arguments", function()
            local args = {}
            for i = 1, n do args[i] = i end
            local pid, err = process.spawn_monitored("app:child", "app:processes", table.unpack(args, 1, n))
            check(pid, "spawn failed: " .. tostring(err))
            local ev = wait_exit(pid)
            eq(ev.result.error, nil, "child error")
            local r = ev.result.value
            eq(r.n, n, "argument count")
            eq(r.sum, n * (n + 1) // 2, "argument sum")
            eq(r.last, n, "last argument")
        end)
    end
    test("send with 250 payload values", function()
        local vals = {}
        for i = 1, 250 do vals[i] = i end
        eq(process.send(process.pid(), "many", table.unpack(vals)), true, "send")
        local p = expect_msg("many"):payload()
        eq(#p, 250, "payload count")
        eq(p[250]:data(), 250, "last payload")
    end)
    return finish()
end
return { main = main }
