-- ---- test helpers: the shared library app:testing (tests/lua/lib/testing.lua),
-- imported as `t`; local aliases keep the call sites short
local test, check, eq, contains = t.test, t.check, t.eq, t.contains
local recv, expect_msg, wait_exit, finish = t.recv, t.expect_msg, t.wait_exit, t.finish
-- ----------------------------------------------------------------------
local function main()
    test("computational generators work", function()
        local gen = coroutine.wrap(function()
            for i = 1, 3 do coroutine.yield(i) end
        end)
        eq(gen(), 1, "1") eq(gen(), 2, "2") eq(gen(), 3, "3")
        local co = coroutine.create(function(a, b)
            local c = coroutine.yield(a + b)
            return c * 2
        end)
        local ok, v = coroutine.resume(co, 1, 2)
        eq(ok, true, "resume 1") eq(v, 3, "yielded")
        ok, v = coroutine.resume(co, 10)
        eq(ok, true, "resume 2") eq(v, 20, "returned")
        eq(coroutine.status(co), "dead", "status")
        local running, ismain = coroutine.running()
        eq(type(running), "thread", "coroutine.running")
    end)

    test("blocking inside coroutine.create raises a clear error", function()
        local co = coroutine.create(function()
            time.sleep("1ms")
            return "slept"
        end)
        local ok, err = coroutine.resume(co)
        eq(ok, false, "resume must fail")
        check(type(err) == "string" or type(err) == "userdata", "error type " .. type(err))
        local text = tostring(err)
        check(#text > 0, "empty error message")
        check(text:find("coroutine") or text:find("block") or text:find("yield"),
              "unclear error: " .. text)
    end)

    test("receive inside coroutine.wrap raises", function()
        local ch = channel.new()
        local f = coroutine.wrap(function() return ch:receive() end)
        local ok, err = pcall(f)
        eq(ok, false, "call must fail")
        check(#tostring(err) > 0, "error message")
    end)

    test("select inside coroutine.create raises", function()
        local co = coroutine.create(function()
            return channel.select({ channel.new():case_receive(), time.after("1ms"):case_receive() })
        end)
        local ok, err = coroutine.resume(co)
        eq(ok, false, "resume must fail")
        check(#tostring(err) > 0, "error message")
    end)

    test("process keeps working after the failed attempts", function()
        time.sleep("2ms")
        local ch = channel.new()
        coroutine.spawn(function() ch:send("still fine") end)
        eq(recv(ch), "still fine", "value")
    end)

    test("yield inside pcall inside a manual coroutine", function()
        local co = coroutine.create(function()
            local ok, v = pcall(function()
                local x = coroutine.yield("y1")
                return x + 1
            end)
            return ok, v
        end)
        local ok, v = coroutine.resume(co)
        eq(ok, true, "resume 1") eq(v, "y1", "yield across pcall")
        local ok2, pok, pv = coroutine.resume(co, 41)
        eq(ok2, true, "resume 2") eq(pok, true, "pcall ok") eq(pv, 42, "value")
    end)
    return finish()
end
return { main = main }
