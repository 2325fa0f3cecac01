-- ---- test helpers: the shared library app:testing (tests/lua/lib/testing.lua),
-- imported as `t`; local aliases keep the call sites short
local test, check, eq, contains = t.test, t.check, t.eq, t.contains
local recv, expect_msg, wait_exit, finish = t.recv, t.expect_msg, t.wait_exit, t.finish
-- ----------------------------------------------------------------------
local function elapsed_ms(t0)
    return time.now():sub(t0):milliseconds()
end

local function main()
    test("time.sleep waits at least the duration", function()
        local t0 = time.now()
        local r = time.sleep("40ms")
        eq(r, nil, "sleep returns nothing")
        local ms = elapsed_ms(t0)
        check(ms >= 35, "slept only " .. ms .. "ms")
        check(ms < 5000, "slept far too long: " .. ms .. "ms")
    end)

    test("time.sleep accepts numbers (ns) and durations", function()
        local t0 = time.now()
        time.sleep(1)                         -- 1 ns
        time.sleep(0)
        time.sleep(5 * 1000000)               -- 5 ms
        time.sleep(time.parse_duration("5ms"))
        check(elapsed_ms(t0) < 5000, "numeric sleeps are nanoseconds")
    end)

    test("time.sleep with a bad duration returns nil, err", function()
        local r, err = time.sleep("soon")
        eq(r, nil, "result")
        check(err, "error missing")
        eq(err:kind(), errors.INVALID, "kind")
    end)

    test("time.after delivers once then is closed", function()
        local t0 = time.now()
        local ch = time.after("20ms")
        local v, ok = recv(ch)
        eq(ok, true, "first receive ok")
        eq(type(v), "userdata", "fire time value")
        check(elapsed_ms(t0) >= 15, "fired too early")
        local v2, ok2 = recv(ch)
        eq(v2, nil, "second receive value")
        eq(ok2, false, "second receive: channel closed")
    end)

    test("time.after channels are distinct", function()
        local a, b = time.after("1h"), time.after("1h")
        check(a ~= b, "distinct channels")
        local r = channel.select({ a:case_receive(), b:case_receive() }, true)
        eq(r.default, true, "not fired yet")
    end)

    test("time.after with a non-positive duration", function()
        local ch, err = time.after(0)
        eq(ch, nil, "channel")
        check(err, "error missing")
        eq(err:kind(), errors.INVALID, "kind")
        ch, err = time.after("-1s")
        eq(ch, nil, "channel for -1s")
        check(err, "error missing for -1s")
    end)

    test("earlier timer fires first", function()
        local slow, fast = time.after("300ms"), time.after("10ms")
        local r = channel.select({ slow:case_receive(), fast:case_receive() })
        eq(r.channel, fast, "fast timer first")
    end)

    test("durations", function()
        local d = time.parse_duration("1m30s")
        eq(d:seconds(), 90, "1m30s")
        eq(time.parse_duration("1.5s"):milliseconds(), 1500, "1.5s")
        local bad, err = time.parse_duration("5sec")
        eq(bad, nil, "bad duration")
        eq(err and err:kind(), errors.INVALID, "kind")
        eq(time.SECOND, 1000000000, "time.SECOND")
    end)

    test("sleeping in several tasks", function()
        local done = channel.new(3)
        local t0 = time.now()
        for i = 1, 3 do
            coroutine.spawn(function()
                time.sleep("300ms")
                done:send(i)
            end)
        end
        for _ = 1, 3 do recv(done) end
        -- the tasks slept concurrently, not one after another
        check(elapsed_ms(t0) < 800, "3 x 300ms took " .. elapsed_ms(t0) .. "ms")
    end)
    return finish()
end
return { main = main }
