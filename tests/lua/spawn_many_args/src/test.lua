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
