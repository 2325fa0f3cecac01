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
    test("string.upper/lower handle UTF-8", function()
        eq(string.upper("schön"), "SCHÖN", "upper schön")
        eq(("schön"):upper(), "SCHÖN", "method upper")
        eq(string.lower("SCHÖN"), "schön", "lower SCHÖN")
        eq(string.upper("éàü ñ"), "ÉÀÜ Ñ", "upper latin-1 range")
        eq(string.upper("привет"), "ПРИВЕТ", "upper cyrillic")
        eq(string.lower("ΑΒΓ"), "αβγ", "lower greek")
        eq(string.upper("hello world 123"), "HELLO WORLD 123", "ascii")
        eq(string.upper(""), "", "empty")
    end)

    test("string functions accept error objects", function()
        local err = errors.new("thing not found")
        check(string.find(err, "not found"), "string.find")
        eq(string.len(err), #"thing not found", "string.len")
        eq(string.sub(err, 1, 5), "thing", "string.sub")
        eq(string.upper(err), "THING NOT FOUND", "string.upper")
        eq(string.format("%s!", err), "thing not found!", "string.format %s")
        eq(string.match(err, "(%a+) not"), "thing", "string.match")
        eq(string.gsub(err, "thing", "item"), "item not found", "string.gsub")
        -- a real runtime error
        local ok, serr = process.send("{app:processes|0xffffe}", "x")
        eq(ok, nil, "send to a missing pid")
        check(string.find(serr, "not found"), "string.find on a send error: " .. tostring(serr))
    end)

    test("string(x) cast", function()
        eq(string("abc"), "abc", "string of a string")
        eq(string(42), "42", "string of a number")
        eq(type(string("")), "string", "empty string")
    end)

    test("unpack global", function()
        eq(type(unpack), "function", "type(unpack)")
        local a, b, c = unpack({ 1, 2, 3 })
        eq(a + b + c, 6, "values")
        eq(select("#", unpack({ 1, 2, 3 })), 3, "count")
    end)

    test("os subset", function()
        eq(os.platform, "wippy", "os.platform")
        eq(type(os.time()), "number", "os.time")
        eq(type(os.clock()), "number", "os.clock")
        eq(type(os.date("%Y")), "string", "os.date")
        eq(type(os.difftime(2, 1)), "number", "os.difftime")
        eq(os.execute, nil, "os.execute")
        eq(os.exit, nil, "os.exit")
        eq(os.remove, nil, "os.remove")
        eq(os.rename, nil, "os.rename")
        eq(os.getenv, nil, "os.getenv")
        eq(os.tmpname, nil, "os.tmpname")
    end)

    test("code loading functions are absent", function()
        eq(load, nil, "load")
        eq(loadstring, nil, "loadstring")
        eq(loadfile, nil, "loadfile")
        eq(dofile, nil, "dofile")
        eq(rawget(_G, "load"), nil, "_G.load")
    end)

    test("require", function()
        eq(require("time"), time, "listed module")
        eq(require("io"), io, "listed io")
        eq(require("process"), process, "process")
        eq(require("channel"), channel, "channel")
        local ok, err = pcall(require, "nosuchmodule")
        eq(ok, false, "unknown module raises")
        contains(err, "module 'nosuchmodule' not found", "message")
        ok, err = pcall(require, "json")
        eq(ok, false, "unlisted module raises")
        contains(err, "module 'json' not found", "message")
        ok, err = pcall(require, "logger")
        eq(ok, false, "unlisted logger raises")
        contains(err, "module 'logger' not found", "message")
        eq(logger, nil, "unlisted logger global")
    end)

    test("always-available globals", function()
        for _, name in ipairs({ "process", "channel", "errors", "payload", "string",
                                "table", "math", "coroutine", "os", "print",
                                "pcall", "xpcall", "tostring", "tonumber", "pairs",
                                "ipairs", "next", "select", "type", "setmetatable" }) do
            check(_G[name] ~= nil, name .. " missing")
        end
        eq(type(coroutine.spawn), "function", "coroutine.spawn")
        eq(process.event.EXIT, "pid.exit", "EXIT")
        eq(process.event.LINK_DOWN, "pid.link.down", "LINK_DOWN")
        eq(process.event.CANCEL, "pid.cancel", "CANCEL")
        eq(errors.NOT_FOUND, "NotFound", "errors.NOT_FOUND")
        eq(errors.INTERNAL, "Internal", "errors.INTERNAL")
        eq(errors.UNKNOWN, "", "errors.UNKNOWN")
    end)

    test("process.id and process.pid", function()
        eq(process.id(), "app:test", "process.id")
        check(process.pid():match("^{app:terminal|0x%x+}$"), "pid format: " .. process.pid())
    end)

    test("error objects", function()
        local e = errors.new({ message = "m", kind = errors.TIMEOUT, retryable = false,
                               details = { a = "b" } })
        eq(type(e), "userdata", "type")
        eq(e:message(), "m", "message")
        eq(tostring(e), "m", "tostring")
        eq(e:kind(), "Timeout", "kind")
        eq(e:retryable(), false, "retryable")
        eq(e:details().a, "b", "details")
        eq("x" .. e, "xm", "concat left")
        eq(e .. "y", "my", "concat right")
        check(errors.is(e, errors.TIMEOUT), "errors.is")
        eq(errors.is("nope", errors.TIMEOUT), false, "errors.is on a string")
        local plain = errors.new("plain")
        eq(plain:kind(), "", "kind of errors.new(text)")
        eq(plain:retryable(), nil, "retryable unknown")
    end)

    test("process-local modifications of library tables and globals", function()
        pcall(function() string.trim = function(s) return s end end)
        pcall(function() table.extra = 1 end)
        globals_test_global = "mine"
        local pid = assert(process.spawn("app:child", "app:processes", process.pid()))
        local seen = expect_msg("seen"):payload():data()
        eq(seen.string_trim, "nil", "string.trim seen by another process")
        eq(seen.tbl_extra, "nil", "table.extra seen by another process")
        eq(seen.global, "nil", "global seen by another process")
        eq(seen.upper_ok, true, "string.upper in the other process")
    end)
    return finish()
end
return { main = main }
