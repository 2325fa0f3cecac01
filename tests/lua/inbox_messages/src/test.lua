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
    test("inbox is the same channel every call", function()
        check(rawequal(process.inbox(), inbox), "process.inbox() identity")
        check(process.inbox() == inbox, "process.inbox() ==")
        check(process.events() == process.events(), "process.events() identity")
    end)
    local pid = assert(process.spawn("app:child", "app:processes", process.pid()))

    test("message with no payload", function()
        local msg = recv(inbox)
        eq(type(msg), "userdata", "type(msg)")
        eq(msg:topic(), "zero", "topic")
        eq(msg:from(), pid, "from")
        eq(msg:payload(), nil, "payload()")
        eq(tostring(msg), "process.Message{topic=zero}", "tostring")
    end)
    test("message with one payload", function()
        local msg = recv(inbox)
        eq(msg:topic(), "one", "topic")
        eq(msg:from(), pid, "from")
        local p = msg:payload()
        eq(type(p), "userdata", "type(payload())")
        eq(p:get_format(), "lua/any", "format")
        local d = p:data()
        eq(type(d), "table", "type(data)")
        eq(d.x, 1, "data.x")
        eq(d.s, "str", "data.s")
        -- data() can be called again
        eq(p:data().x, 1, "second data()")
    end)
    test("message with two payloads", function()
        local msg = recv(inbox)
        eq(msg:topic(), "two", "topic")
        local p = msg:payload()
        eq(type(p), "table", "type(payload())")
        eq(#p, 2, "#payload")
        eq(p[1]:data(), "a", "payload 1")
        eq(p[2]:data(), 2, "payload 2")
    end)
    test("message with three payloads including nil", function()
        local msg = recv(inbox)
        eq(msg:topic(), "three", "topic")
        local p = msg:payload()
        eq(type(p), "table", "type(payload())")
        eq(p[1]:data(), "a", "payload 1")
        eq(p[3] and p[3]:data(), true, "payload 3")
    end)
    test("message with a nil payload", function()
        local msg = recv(inbox)
        eq(msg:topic(), "nil_payload", "topic")
        local p = msg:payload()
        check(p ~= nil, "one (nil) payload is a Payload object")
        eq(p:data(), nil, "data")
    end)
    test("float payload", function()
        local msg = recv(inbox)
        eq(msg:topic(), "float", "topic")
        eq(msg:payload():data(), 2.5, "data")
    end)
    test("payload.new", function()
        local p = payload.new({ 1, 2 })
        eq(p:get_format(), "lua/any", "format")
        eq(p:data()[2], 2, "data")
    end)
    return finish()
end
return { main = main }
