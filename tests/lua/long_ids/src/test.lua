-- Long host and entry ids: every pid is complete (never ""), names the
-- host it runs on, and works as a destination (spec 08).
local test, check, eq, contains = t.test, t.check, t.eq, t.contains
local expect_msg, wait_exit, finish = t.expect_msg, t.wait_exit, t.finish

local TERM = "app:terminal_" .. string.rep("t", 111)
local PROCS = "app:processes_" .. string.rep("p", 290)
local CHILD = "app:child_" .. string.rep("c", 144)
local FN = "app:fn_pid_" .. string.rep("f", 293)
local NAME = "long_ids_child_" .. string.rep("n", 200)

-- pid must be "{" .. host .. "|0x" hex digits "}".
local function check_pid(pid, host, what)
    eq(type(pid), "string", what .. ": type")
    check(pid ~= "", what .. ": empty pid")
    eq(pid:sub(1, #host + 2), "{" .. host .. "|", what .. ": host part")
    check(pid:sub(#host + 3):match("^0x%x+}$"), what .. ": counter part of " .. pid)
end

local function main()
    local me = process.pid()

    test("own pid on a 120-character terminal host", function()
        eq(#TERM, 4 + 120, "host id length")
        check_pid(me, TERM, "process.pid()")
    end)

    test("send to self by pid", function()
        eq(process.send(me, "self", 42), true, "send")
        local msg = expect_msg("self")
        eq(msg:payload():data(), 42, "payload")
        eq(msg:from(), me, "from")
    end)

    local child
    test("spawn on a 300-character process host", function()
        child = process.spawn_monitored(CHILD, PROCS, me)
        check_pid(child, PROCS, "spawn result")
        local msg = expect_msg("hello")
        eq(msg:payload():data(), child, "the child's own process.pid()")
        eq(msg:from(), child, "from")
    end)

    test("the child's pid and name work as destinations", function()
        check(child, "no child")
        eq(process.send(child, "ping", "by pid"), true, "send by pid")
        local r = expect_msg("pong"):payload():data()
        eq(r.data, "by pid", "pong payload")
        eq(r.from, me, "the child saw my pid")
        eq(process.registry.lookup(NAME), child, "registry lookup")
        eq(process.send(NAME, "ping", "by name"), true, "send by name")
        eq(expect_msg("pong"):payload():data().data, "by name", "pong payload by name")
    end)

    test("EXIT from the child's pid; then 'process not found'", function()
        check(child, "no child")
        process.send(child, "quit")
        local ev = wait_exit(child)
        eq(ev.from, child, "EXIT from")
        local ok, err = process.send(child, "late")
        eq(ok, nil, "send to the gone child")
        eq(err:kind(), errors.NOT_FOUND, "kind")
        contains(err:message(), "process not found", "a known host, not 'host not found'")
    end)

    test("a function call's pid carries its 300-character entry id", function()
        local pid = funcs.call(FN)
        check_pid(pid, FN, "function pid")
        check(pid ~= me, "not the caller's pid")
    end)

    return finish()
end

return { main = main }
