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
local function main()
    local events = process.events()

    test("coroutine.spawn returns a thread and ignores extra arguments", function()
        local got = channel.new(1)
        local th = coroutine.spawn(function(...) got:send(select("#", ...)) end, 1, 2, 3)
        eq(type(th), "thread", "type")
        eq(recv(got), 0, "argument count")
    end)

    test("tasks share upvalues and tables", function()
        local counter = 0
        local shared = {}
        local step = channel.new()
        local done = channel.new(3)
        for t = 1, 3 do
            coroutine.spawn(function()
                for i = 1, 100 do
                    counter = counter + 1
                    shared[#shared + 1] = t
                    if i % 10 == 0 then time.sleep(1) end -- a blocking point
                end
                done:send(t)
            end)
        end
        for _ = 1, 3 do recv(done) end
        eq(counter, 300, "counter")
        eq(#shared, 300, "shared table")
    end)

    test("tasks see globals of their process", function()
        shared_global_value = "set by main"
        local got = channel.new(1)
        coroutine.spawn(function() got:send(shared_global_value) end)
        eq(recv(got), "set by main", "global")
    end)

    test("error in a spawned task kills the process", function()
        local pid = assert(process.spawn_monitored("app:child", "app:processes", "task_error"))
        local ev = wait_exit(pid)
        eq(ev.result.value, nil, "value")
        local e = ev.result.error
        check(e, "result.error missing")
        contains(e:message(), "task died", "message")
        contains(e:message(), "child.lua:6", "position")
        eq(e:kind(), errors.INTERNAL, "kind")
    end)

    test("main return discards other tasks", function()
        local pid = assert(process.spawn_monitored("app:child", "app:processes", "main_returns"))
        local ev = wait_exit(pid, "5s")
        eq(ev.result.error, nil, "error")
        eq(ev.result.value, 7, "value")
    end)

    test("many tasks", function()
        local N = 500
        local done = channel.new()
        for i = 1, N do
            coroutine.spawn(function() done:send(i) end)
        end
        local sum = 0
        for _ = 1, N do sum = sum + recv(done) end
        eq(sum, N * (N + 1) // 2, "sum")
    end)
    return finish()
end
return { main = main }
