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
    local pid = assert(process.spawn("app:child", "app:processes", process.pid()))
    local report = expect_msg("report"):payload():data()
    for _, name in ipairs({ "print", "write", "eprint", "readline", "read", "flush" }) do
        test("io." .. name .. " on a process host", function()
            local r = report[name]
            eq(r.raised, false, "raised (" .. tostring(r.message) .. ")")
            eq(r.r, nil, "first result")
            eq(r.kind, errors.UNAVAILABLE, "kind")
        end)
    end
    test("io.args on a process host", function()
        eq(report.args_type, "table", "type")
        eq(report.args_len, 0, "length")
    end)
    test("io on the terminal host", function()
        eq(io.write(""), true, "io.write")
        eq(io.print("io works"), true, "io.print")
        eq(io.flush(), true, "io.flush")
        eq(type(io.args()), "table", "io.args")
        -- stdin is /dev/null: EOF gives nil, err
        local line, err = io.readline()
        eq(line, nil, "readline at EOF")
        check(err ~= nil, "readline at EOF returns an error")
    end)
    return finish()
end
return { main = main }
