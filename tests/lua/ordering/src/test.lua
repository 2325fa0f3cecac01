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
    local N = 1000
    local senders = { "a", "b", "c" }
    local pids, last = {}, {}
    for _, tag in ipairs(senders) do
        pids[tag] = assert(process.spawn_monitored("app:child", "app:processes", process.pid(),
                                                   tag, N, tag == "c"))
        last[tag] = 0
    end
    test("per-sender order of " .. N .. " messages from " .. #senders .. " senders (one sends big payloads)", function()
        local deadline = time.after("30s")
        for _ = 1, N * #senders do
            local r = channel.select({ inbox:case_receive(), deadline:case_receive() })
            if r.channel == deadline then error("timed out; got " .. last.a .. "/" .. last.b .. "/" .. last.c) end
            local p = r.value:payload()
            local tag, i = p[1]:data(), p[2]:data()
            if tag == "c" and i % 3 == 0 then
                eq(#p[3]:data(), 70000, "big payload size")
            end
            check(last[tag], "unknown sender tag " .. tostring(tag))
            eq(r.value:from(), pids[tag], "from")
            eq(i, last[tag] + 1, "sequence of sender " .. tag)
            eq(r.value:topic(), (i % 2 == 0) and "even" or "odd", "topic")
            last[tag] = i
        end
    end)
    test("senders exit normally", function()
        for _, tag in ipairs(senders) do
            local ev = wait_exit(pids[tag])
            eq(ev.result.error, nil, "error of " .. tag)
            eq(ev.result.value, N, "value of " .. tag)
        end
    end)
    test("send to self keeps order", function()
        for i = 1, N do process.send(process.pid(), "self", i) end
        for i = 1, N do
            local msg = recv(inbox)
            eq(msg:payload():data(), i, "self sequence")
        end
    end)
    return finish()
end
return { main = main }
