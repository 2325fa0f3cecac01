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
    local inbox = process.inbox()
    local events = process.events()
    local N = 1000

    test(N .. " monitored processes report and exit", function()
        local pids = {}
        for i = 1, N do
            local pid, err = process.spawn_monitored("app:child", "app:processes", process.pid(), i)
            check(pid, "spawn " .. i .. " failed: " .. tostring(err))
            check(not pids[pid], "duplicate pid " .. tostring(pid))
            pids[pid] = i
        end
        local got_msgs, got_exits = 0, 0
        local seen = {}
        local deadline = time.after("60s")
        while got_msgs < N or got_exits < N do
            local r = channel.select({ inbox:case_receive(), events:case_receive(), deadline:case_receive() })
            if r.channel == deadline then
                error("timed out: " .. got_msgs .. " messages, " .. got_exits .. " exits")
            elseif r.channel == inbox then
                local i = r.value:payload():data()
                eq(pids[r.value:from()], i, "message from the right pid")
                check(not seen[i], "duplicate message " .. i)
                seen[i] = true
                got_msgs = got_msgs + 1
            else
                local ev = r.value
                eq(ev.kind, process.event.EXIT, "event kind")
                local i = pids[ev.from]
                check(i, "EXIT from an unknown pid " .. tostring(ev.from))
                eq(ev.result.error, nil, "error of " .. i)
                eq(ev.result.value, i * 2, "value of " .. i)
                pids[ev.from] = nil
                got_exits = got_exits + 1
            end
        end
    end)

    test("a chain of 200 spawning processes", function()
        assert(process.spawn("app:relay", "app:processes", process.pid(), 200, ""))
        local msg = expect_msg("token", "60s")
        eq(#msg:payload():data(), 200, "token length")
    end)
    return finish()
end
return { main = main }
