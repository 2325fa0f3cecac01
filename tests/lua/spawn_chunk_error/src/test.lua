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
-- Spec 03 §4 runs the child's chunk inside the spawn call; we run it when
-- the child first runs (docs/differences-from-wippy.md), so spawn returns a
-- pid at once and a raising chunk or a missing entry function is the child's
-- EXIT error, with the message and kind Wippy's spawn would have returned.
local function main()
    local events = process.events()

    test("chunk that raises: EXIT with 'failed to execute script' (Internal)", function()
        local pid, err = process.spawn_monitored("app:raiser", "app:processes")
        check(pid, "spawn failed: " .. tostring(err))
        local ev = wait_exit(pid)
        local e = ev.result.error
        check(e, "error missing")
        eq(e:kind(), errors.INTERNAL, "kind")
        contains(e:message(), "failed to execute script", "message")
        contains(e:message(), "chunk raised", "message")
        contains(e:message(), "raiser.lua:2", "position")
    end)

    test("chunk returning a number: EXIT with NotFound", function()
        local pid, err = process.spawn_monitored("app:badexport", "app:processes")
        check(pid, "spawn failed: " .. tostring(err))
        local e = wait_exit(pid).result.error
        check(e, "error missing")
        eq(e:kind(), errors.NOT_FOUND, "kind")
        contains(e:message(), 'method "main" not found', "message")
    end)

    test("missing method: EXIT with NotFound", function()
        local pid, err = process.spawn_monitored("app:nomethod", "app:processes")
        check(pid, "spawn failed: " .. tostring(err))
        local e = wait_exit(pid).result.error
        check(e, "error missing")
        eq(e:kind(), errors.NOT_FOUND, "kind")
        contains(e:message(), 'method "run" not found', "message")
    end)

    test("chunk returning a function ignores method", function()
        local pid, err = process.spawn_monitored("app:fnchunk", "app:processes", 21)
        check(pid, "spawn failed: " .. tostring(err))
        local ev = wait_exit(pid)
        eq(ev.result.error, nil, "error")
        eq(ev.result.value, 42, "value")
    end)

    test("top-level locals are per process", function()
        for i = 1, 3 do
            local pid = assert(process.spawn_monitored("app:counter", "app:processes"))
            local ev = wait_exit(pid)
            eq(ev.result.value, 1, "count in process " .. i)
        end
    end)
    return finish()
end
return { main = main }
