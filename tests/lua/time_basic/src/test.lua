-- ---- inline test helper ----------------------------------------------
local failed = 0
local function test(name, fn)
    local ok, err = pcall(fn)
    if ok then
        io.print("PASS " .. name)
    else
        failed = failed + 1
        io.print("FAIL " .. name .. ": " .. tostring(err))
    end
end
local function check(cond, msg)
    if not cond then error(msg or "check failed", 2) end
end
local function eq(got, want, what)
    if got ~= want then
        error(string.format("%s: expected %s, got %s", what or "value",
            tostring(want), tostring(got)), 2)
    end
end
local function contains(s, sub, what)
    s = tostring(s)
    if not string.find(s, sub, 1, true) then
        error(string.format("%s: %q does not contain %q", what or "text", s, sub), 2)
    end
end
-- receive one value from ch, failing after `limit` (a failure bound only)
local function recv(ch, limit)
    local deadline = time.after(limit or "10s")
    local r = channel.select({ ch:case_receive(), deadline:case_receive() })
    if r.channel == deadline then error("timed out after " .. (limit or "10s"), 2) end
    return r.value, r.ok
end
-- next inbox message, which must have `topic`
local function expect_msg(topic, limit)
    local msg = recv(process.inbox(), limit)
    eq(msg:topic(), topic, "topic")
    return msg
end
-- EXIT event of `pid` (EXITs of other pids are kept for later calls)
local stashed_exits = {}
local function wait_exit(pid, limit)
    local ev = stashed_exits[pid]
    if ev then stashed_exits[pid] = nil return ev end
    local deadline = time.after(limit or "10s")
    while true do
        local r = channel.select({ process.events():case_receive(), deadline:case_receive() })
        if r.channel == deadline then error("timed out waiting for EXIT of " .. tostring(pid), 2) end
        ev = r.value
        if ev.kind == process.event.EXIT and ev.from == pid then return ev end
        stashed_exits[ev.from] = ev
    end
end
local function finish() if failed == 0 then return 0 end return 1 end
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
