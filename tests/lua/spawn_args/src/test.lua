-- ---- test helpers: the shared library app:testing (tests/lua/lib/testing.lua),
-- imported as `t`; local aliases keep the call sites short
local test, check, eq, contains = t.test, t.check, t.eq, t.contains
local recv, expect_msg, wait_exit, finish = t.recv, t.expect_msg, t.wait_exit, t.finish
-- ----------------------------------------------------------------------
local function main()
    local events = process.events()
    local inbox = process.inbox()

    local shared = { k = "shared" }
    local cyc = { name = "cyc" }
    cyc.self = cyc
    local tbl = {
        a = shared, b = shared,
        nested = { deep = { deeper = { 1, 2, 3 } } },
        cyc = cyc,
        [1] = "one", [2.5] = "float key", [true] = "bool key",
        fn = function() end,
        chan = channel.new(1),
        array = { "x", "y", "z" },
    }
    tbl.nested.up = tbl
    local big = string.rep("abcdefgh", 16384) -- 128 KiB
    local err_obj = errors.new({ message = "boom obj", kind = errors.NOT_FOUND,
                                 retryable = true, details = { x = "1" } })

    local pid, serr = process.spawn_monitored("app:child", "app:processes",
        process.pid(), nil, true, false, 42, 3.5, "str\0ing", big,
        tbl, function() return 1 end, channel.new(), err_obj,
        math.maxinteger, -7, {}, "last")

    test("spawn returns a pid string", function()
        check(pid, "spawn failed: " .. tostring(serr))
        eq(type(pid), "string", "type(pid)")
        check(pid:match("^{app:processes|0x%x+}$"), "pid format: " .. pid)
        check(pid ~= process.pid(), "child pid differs from own pid")
    end)
    if not pid then return finish() end

    -- mutate the originals after spawning: the child must not see it
    shared.k = "mutated"
    tbl.nested.deep.deeper[1] = 999
    tbl.nested.deep.deeper[4] = 4
    tbl[1] = "changed"
    process.send(pid, "go")

    -- send a table, then mutate it
    local msg_tbl = { x = "orig", list = { "first" } }
    process.send(pid, "data", msg_tbl)
    msg_tbl.x = "mutated"
    msg_tbl.list[1] = "mutated"

    local msg = expect_msg("report")
    local p = msg:payload()
    test("two payload values arrive as a list", function()
        eq(type(p), "table", "type(payload())")
        eq(#p, 2, "#payload")
    end)
    local rep = p[1]:data()
    local echo = p[2]:data()

    test("scalar arguments", function()
        eq(rep.types.a_nil, "nil", "nil arg")
        eq(rep.a_true, true, "true arg")
        eq(rep.a_false, false, "false arg")
        eq(rep.a_int, 42, "int arg")
        eq(rep.types.a_int, "integer", "math.type(int arg)")
        eq(rep.a_float, 3.5, "float arg")
        eq(rep.types.a_float, "float", "math.type(float arg)")
        eq(rep.a_str, "str\0ing", "string with NUL")
        eq(rep.a_big_len, #big, "big string length")
        eq(rep.a_maxint, math.maxinteger, "maxinteger")
        eq(rep.a_neg, -7, "negative")
        eq(rep.types.a_empty, "table", "empty table arg")
        eq(rep.empty_next, true, "empty table is empty")
        eq(rep.a_last, "last", "argument after nil/function/channel keeps its position")
    end)
    test("functions and channels arrive as nil", function()
        eq(rep.types.a_fn, "nil", "function arg")
        eq(rep.types.a_chan, "nil", "channel arg")
        eq(rep.fn_field, "nil", "function field")
        eq(rep.chan_field, "nil", "channel field")
    end)
    test("table deep copy preserves sharing and cycles", function()
        eq(rep.types.a_tbl, "table", "table arg")
        eq(rep.shared_same, true, "shared sub-table stays shared")
        eq(rep.cycle_ok, true, "self cycle preserved")
        eq(rep.deep_cycle_ok, true, "cycle back to the root preserved")
        eq(rep.float_key, "float key", "float key")
        eq(rep.bool_key, "bool key", "boolean key")
        eq(rep.array and #rep.array, 3, "array length")
        eq(rep.array and rep.array[3], "z", "array element")
    end)
    test("sender mutation after spawn is invisible", function()
        eq(rep.shared_k, "shared", "shared.k")
        eq(rep.deeper1, 1, "deeper[1]")
        eq(rep.deeper_len, 3, "#deeper")
        eq(rep.one, "one", "tbl[1]")
    end)
    test("sender mutation after send is invisible", function()
        eq(rep.msg_x, "orig", "msg.x")
        eq(rep.msg_list1, "first", "msg.list[1]")
    end)
    test("error object argument", function()
        eq(rep.types.a_err, "userdata", "type(err arg)")
        eq(rep.err_message, "boom obj", "message")
        eq(rep.err_kind, errors.NOT_FOUND, "kind")
        eq(rep.err_retryable, true, "retryable")
        eq(rep.err_detail_x, "1", "details.x")
    end)
    test("table echoed back keeps structure", function()
        eq(type(echo), "table", "echo")
        check(rawequal(echo.a, echo.b), "shared sub-table in echo")
        check(rawequal(echo.cyc.self, echo.cyc), "cycle in echo")
        check(rawequal(echo.nested.up, echo), "root cycle in echo")
        eq(echo.nested.deep.deeper[1], 1, "deeper[1] in echo")
        eq(echo.fn, nil, "function field in echo")
    end)
    test("child exits normally", function()
        local ev = wait_exit(pid)
        eq(ev.result.error, nil, "error")
        eq(ev.result.value, 0, "value")
    end)
    test("spawn errors", function()
        local p1, e1 = process.spawn("app:nope", "app:processes")
        eq(p1, nil, "unknown entry pid")
        check(e1, "unknown entry error")
        eq(e1:kind(), errors.NOT_FOUND, "unknown entry kind")
        local p2, e2 = process.spawn("app:child", "app:nohost")
        eq(p2, nil, "unknown host pid")
        check(e2, "unknown host error")
        eq(e2:kind(), errors.NOT_FOUND, "unknown host kind")
    end)
    return finish()
end
return { main = main }
