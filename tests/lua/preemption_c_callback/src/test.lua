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
-- 8 processes spinning inside a table.sort comparator / string.gsub callback on the process host must not keep a
-- 9th process on the same host (nor this terminal process) from running.
local MODES = { "sort", "gsub" }
local function main()
    local inbox = process.inbox()
    local SPINNERS = 8
    local spinners = {}
    for i = 1, SPINNERS do
        spinners[i] = assert(process.spawn_monitored("app:spinner", "app:processes",
            process.pid(), MODES[(i % #MODES) + 1]))
    end
    test("all spinners start running", function()
        for _ = 1, SPINNERS do expect_msg("spinning", "10s") end
    end)
    local ponger = assert(process.spawn_monitored("app:ponger", "app:processes"))
    test("a 9th process answers pings while the spinners run", function()
        for n = 1, 3 do
            eq(process.send(ponger, "ping", { reply_to = process.pid(), n = n }), true, "send ping")
            eq(expect_msg("pong", "10s"):payload():data(), n, "pong number")
        end
    end)
    test("spinners can be terminated", function()
        for i = 1, SPINNERS do process.terminate(spinners[i]) end
        for i = 1, SPINNERS do
            local ev = wait_exit(spinners[i], "10s")
            check(ev.result.error, "terminated spinner has an error result")
        end
    end)
    process.send(ponger, "quit")
    return finish()
end
return { main = main }
