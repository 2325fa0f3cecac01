-- mod_process: every in-scope function of the `process` global (spec 03).
local H = "app:processes"
local C = "app:child"

local function main()
    local me = process.pid()
    local events = process.events()
    local inbox = process.inbox()

    -- spawn a child in `mode` and wait for its "ready" message
    local function ready_child(spawner, ...)
        local pid = assert(spawner(C, H, me, ...))
        local got = t.expect_data("ready")
        t.eq(got, pid, "ready sender")
        return pid
    end

    -- a process that is certainly dead (its EXIT was seen)
    local function dead_pid()
        local pid = assert(process.spawn_monitored(C, H, me, "ret", "bye"))
        t.wait_exit(pid)
        return pid
    end

    -- round trip through a fresh echo process: everything that was sent to us
    -- before the echo process ended has been queued by then
    local function barrier()
        local e = ready_child(process.spawn_monitored, "echo")
        process.send(e, "ping")
        t.expect_msg("echo:ping")
        process.send(e, "stop")
        t.wait_exit(e)
    end

    -- a stray message left by a failed subtest must not derail the next one
    t.before_each(t.drain_inbox)

    t.test("constants", function()
        t.eq(process.event.EXIT, "pid.exit", "event.EXIT")
        t.eq(process.event.LINK_DOWN, "pid.link.down", "event.LINK_DOWN")
        t.eq(process.event.CANCEL, "pid.cancel", "event.CANCEL")
        t.eq(process.registry.LOCAL, 0, "registry.LOCAL")
        t.eq(process.registry.EVENTUAL, 1, "registry.EVENTUAL")
        t.eq(process.registry.CONSISTENT, 2, "registry.CONSISTENT")
        t.eq(process.registry.STRONG, 3, "registry.STRONG")
        t.eq(require("process"), process, "require('process')")
    end)

    t.test("pid and id", function()
        t.eq(type(me), "string", "pid type")
        t.check(me:match("^{app:terminal|0x%x+}$"), "pid format: " .. me)
        t.eq(process.pid(), me, "pid is stable")
        t.eq(process.id(), "app:test", "id")
        local pid = assert(process.spawn(C, H, me, "whoami"))
        t.check(pid:match("^{app:processes|0x%x+}$"), "child pid format: " .. pid)
        t.neq(pid, me, "child pid")
        local w = t.expect_data("whoami")
        t.eq(w.pid, pid, "child's own pid() equals spawn's result")
        t.eq(w.id, "app:child", "child's id()")
    end)

    t.test("inbox/events return the same channel every call", function()
        t.check(rawequal(process.inbox(), inbox), "inbox identity")
        t.check(process.inbox() == inbox, "inbox ==")
        t.check(rawequal(process.events(), events), "events identity")
        t.check(inbox ~= events, "inbox differs from events")
        t.eq(type(inbox), "userdata", "inbox type")
    end)

    t.test("send: returns true; 0, 1 and several payload values", function()
        local ok, err = process.send(me, "none")
        t.eq(ok, true, "send result")
        t.eq(err, nil, "send error")
        local msg = t.expect_msg("none")
        t.eq(msg:payload(), nil, "0 payloads -> nil")
        t.eq(msg:from(), me, "from")
        t.eq(msg:topic(), "none", "topic")
        t.eq(tostring(msg), "process.Message{topic=none}", "tostring(msg)")

        assert(process.send(me, "one", { k = "v" }))
        msg = t.expect_msg("one")
        local p = msg:payload()
        t.eq(type(p), "userdata", "1 payload -> a Payload")
        t.same(p:data(), { k = "v" }, "data")

        assert(process.send(me, "three", 1, "two", { 3 }))
        msg = t.expect_msg("three")
        local list = msg:payload()
        t.eq(type(list), "table", "3 payloads -> a list")
        t.eq(#list, 3, "list length")
        t.eq(list[1]:data(), 1, "payload 1")
        t.eq(list[2]:data(), "two", "payload 2")
        t.same(list[3]:data(), { 3 }, "payload 3")

        assert(process.send(me, "two-nil", nil, nil))
        list = t.expect_msg("two-nil"):payload()
        t.eq(type(list), "table", "2 nil payloads -> a list")
        t.eq(#list, 2, "2 nil payloads count")
        t.eq(list[1]:data(), nil, "nil payload")

        assert(process.send(me, "", "empty topic"))
        t.eq(t.expect_msg(""):payload():data(), "empty topic", "empty topic allowed")
    end)

    t.test("send to another process: order, from, payload shapes", function()
        local e = ready_child(process.spawn_monitored, "echo")
        for i = 1, 20 do assert(process.send(e, "n", i)) end
        for i = 1, 20 do
            local r = t.expect_data("echo:n")
            t.eq(r.values[1], i, "in send order")
            t.eq(r.from, me, "the child sees our pid as from()")
            t.eq(r.shape, "payload", "shape")
        end
        assert(process.send(e, "z"))
        t.eq(t.expect_data("echo:z").shape, "nil", "no payload")
        assert(process.send(e, "m", "a", "b"))
        local r = t.expect_data("echo:m")
        t.eq(r.shape, "list:2", "two payloads")
        t.same(r.values, { "a", "b" }, "values")
        -- nothing else queued
        t.nothing(inbox, "inbox")
        process.send(e, "stop")
        t.eq(t.wait_exit(e).result.value, "stopped", "echo result")
    end)

    t.test("send: values are deep-copied (tables, cycles, errors; channels -> nil)", function()
        local shared = { "s" }
        local v = { n = 1, nested = { deep = { "x" } }, a = shared, b = shared,
                    ch = channel.new(), fn = function() end,
                    err = errors.new({ message = "m", kind = errors.TIMEOUT, retryable = true }) }
        v.self = v
        assert(process.send(me, "copy", v))
        v.n = 2
        v.nested.deep[1] = "changed"
        local got = t.expect_msg("copy"):payload():data()
        t.check(got ~= v, "a copy, not the same table")
        t.eq(got.n, 1, "sender's later change not visible")
        t.eq(got.nested.deep[1], "x", "nested copy")
        t.check(rawequal(got.self, got), "cycle preserved")
        t.check(rawequal(got.a, got.b), "shared sub-table preserved")
        t.eq(got.ch, nil, "channel arrives as nil")
        t.eq(got.fn, nil, "function arrives as nil")
        t.errkind(got.err, errors.TIMEOUT, "m", "error object")
        t.eq(got.err:retryable(), true, "retryable preserved")
        assert(process.send(me, "ch", channel.new()))
        t.eq(t.expect_msg("ch"):payload():data(), nil, "a bare channel arrives as nil")
        assert(process.send(me, "float", 5.0, 2.5))
        local fl = t.expect_msg("float"):payload()
        t.eq(math.type(fl[1]:data()), "integer", "integral float becomes an integer")
        t.eq(fl[1]:data(), 5, "5.0")
        t.eq(fl[2]:data(), 2.5, "2.5 stays")
    end)

    t.test("send: errors", function()
        t.fails(errors.INVALID, "send requires at least destination and topic arguments",
            "one argument", process.send(me))
        t.fails(errors.INVALID, "cannot send to @ topics", "@ topic", process.send(me, "@pid/events"))
        t.fails(errors.NOT_FOUND, "could not resolve 'no such name' as PID or registered name",
            "unknown name", process.send("no such name", "x"))
        t.raises(nil, "table destination", process.send, {}, "x")
        t.raises(nil, "table topic", process.send, me, {})
        local _, err = process.send("{app:processes|0xffffe}", "x")
        t.check(string.find(err, "not found"), "string.find on the error: " .. tostring(err))
    end)

    -- a pid whose host part names no host must not reach a process that
    -- merely has the same counter on another host (spec 03 §5: NotFound
    -- "host not found" for send, Internal "host not found" for cancel)
    t.test("send to a pid on an unknown host", function()
        local probe = "{app:nohost|" .. me:match("|(0x%x+)}$") .. "}"
        t.fails(errors.NOT_FOUND, "host not found", "unknown host", process.send(probe, "misrouted"))
        t.fails(errors.NOT_FOUND, "host not found", "unknown host 2",
            process.send("{app:nohost|0x00001}", "misrouted"))
        barrier()
        local stray = t.drain_inbox()
        t.eq(#stray, 0, "messages delivered to us instead: " .. table.concat(stray, ","))
    end)

    t.test("spawn: arguments, immediate return, factory errors", function()
        local pid = assert(process.spawn_monitored(C, H, me, "args", "s", 2, nil, true, { k = { 1 } }))
        local r = t.wait_exit(pid).result
        t.eq(r.error, nil, "no error")
        t.eq(r.value.n, 5, "argument count")
        t.eq(r.value[1], "s", "arg 1")
        t.eq(r.value[2], 2, "arg 2")
        t.eq(r.value[3], nil, "arg 3 (nil)")
        t.eq(r.value[4], true, "arg 4")
        t.same(r.value[5], { k = { 1 } }, "arg 5")

        t.fails(errors.INVALID, "requires at least id and host", "spawn with 1 arg", process.spawn(C))
        t.fails(errors.INVALID, "requires at least id and host", "spawn_monitored with 1 arg",
            process.spawn_monitored(C))
        t.fails(errors.INVALID, "requires at least id and host", "spawn_linked with 1 arg",
            process.spawn_linked(C))
        t.fails(errors.INVALID, "requires at least id and host", "spawn_linked_monitored with 1 arg",
            process.spawn_linked_monitored(C))
        t.fails(errors.NOT_FOUND, "host not found", "unknown host", process.spawn(C, "app:nohost"))
        t.fails(errors.UNAVAILABLE, "host is not running", "host not started",
            process.spawn(C, "app:idle"))
        t.fails(errors.NOT_FOUND, "factory not found", "unknown entry", process.spawn("app:nope", H))
        t.fails(errors.NOT_FOUND, "factory not found", "a library entry",
            process.spawn("app:a_library", H))
        t.fails(errors.NOT_FOUND, "factory not found", "a function entry",
            process.spawn("app:a_function", H))
        t.fails(errors.NOT_FOUND, "factory not found", "a host entry", process.spawn("app:idle", H))
        t.raises(nil, "non-string id", process.spawn, { C }, H)
        t.raises(nil, "non-string host", process.spawn, C, {})
    end)

    t.test("spawn: chunk error and missing method end the child (our difference)", function()
        local pid = assert(process.spawn_monitored("app:bad_chunk", H))
        local e = t.wait_exit(pid).result.error
        t.errkind(e, errors.INTERNAL, "failed to execute script", "chunk error")
        t.contains(e:message(), "chunk exploded", "chunk error message")
        pid = assert(process.spawn_monitored("app:no_method", H))
        e = t.wait_exit(pid).result.error
        t.errkind(e, errors.NOT_FOUND, 'method "nope" not found in module', "missing method")
    end)

    t.test("spawn_monitored: EXIT even for an immediately exiting child", function()
        local pid = assert(process.spawn_monitored(C, H, me, "ret", "quick"))
        local ev = t.wait_exit(pid)
        t.eq(ev.kind, process.event.EXIT, "kind")
        t.eq(ev.from, pid, "from")
        t.eq(math.type(ev.at), "integer", "at is an integer")
        t.check(math.abs(ev.at - os.time()) <= 5, "at is unix seconds: " .. tostring(ev.at))
        t.eq(ev.result.value, "quick", "value")
        t.eq(ev.result.error, nil, "error")
        -- plain spawn: no EXIT
        local p2 = assert(process.spawn(C, H, me, "ret", "unwatched"))
        local p3 = assert(process.spawn_monitored(C, H, me, "ret", "watched"))
        t.eq(t.wait_exit(p3).result.value, "watched", "watched")
        t.no_event(process.event.EXIT, p2, "EXIT of an unmonitored child")
    end)

    t.test("process results: normal and abnormal exits", function()
        local function result_of(...)
            local pid = assert(process.spawn_monitored(C, H, me, ...))
            return t.wait_exit(pid).result
        end
        local r = result_of("ret")
        t.eq(r.value, nil, "nothing returned")
        t.eq(r.error, nil, "no error")
        r = result_of("ret", "v", false)
        t.eq(r.value, "v", "second value false is ignored")
        t.eq(r.error, nil, "no error with false")
        r = result_of("ret", "v", 7)
        t.eq(r.value, "v", "second value number is ignored")
        r = result_of("ret_table")
        t.eq(r.value.nested.b.c, "deep", "deep copy of the result")
        t.check(rawequal(r.value.self, r.value), "cycle in result")
        t.check(rawequal(r.value.x, r.value.y), "shared table in result")
        r = result_of("ret", "v", "text error")
        t.eq(r.value, nil, "value with a string error")
        t.errkind(r.error, errors.INTERNAL, "text error", "string error")
        t.eq(r.error:message(), "text error", "message")
        t.eq(r.error:retryable(), false, "string error is not retryable")
        r = result_of("ret", nil, errors.new({ message = "gone", kind = errors.NOT_FOUND,
                                                retryable = true, details = { id = "x" } }))
        t.eq(r.value, nil, "value with an error object")
        t.errkind(r.error, errors.NOT_FOUND, "gone", "returned error")
        t.eq(r.error:retryable(), true, "retryable kept")
        t.eq(r.error:details().id, "x", "details kept")
        r = result_of("ret", nil, errors.new("kindless"))
        t.errkind(r.error, errors.INTERNAL, "kindless", "unknown kind becomes Internal")
        r = result_of("raise_text")
        t.errkind(r.error, errors.INTERNAL, "plain failure", "raised string")
        t.eq(r.error:retryable(), nil, "retryable unknown")
        r = result_of("raise_obj")
        t.errkind(r.error, errors.CONFLICT, "conflicting", "raised error object")
        t.eq(r.error:retryable(), true, "raised retryable kept")
        local pid = ready_child(process.spawn_monitored, "task_error")
        r = t.wait_exit(pid).result
        t.errkind(r.error, errors.INTERNAL, "task blew up", "error in a spawned task")
    end)

    t.test("exec: value, error, invalid id", function()
        local v, err = process.exec(C, H, me, "ret", { answer = 42 })
        t.eq(err, nil, "exec error")
        t.same(v, { answer = 42 }, "exec value")
        v, err = process.exec(C, H, me, "args", "x", "y")
        t.eq(v.n, 2, "exec passes arguments")
        t.eq(v[2], "y", "exec argument 2")
        t.fails(errors.INTERNAL, "plain failure", "failing child", process.exec(C, H, me, "raise_text"))
        t.fails(errors.NOT_FOUND, "gone", "child returning nil, err",
            process.exec(C, H, me, "ret", nil, errors.new({ message = "gone", kind = errors.NOT_FOUND })))
        t.fails(errors.INVALID, "invalid process ID format", "id without namespace",
            process.exec("child", H))
        t.fails(errors.NOT_FOUND, nil, "unknown entry", process.exec("app:nope", H))
        t.fails(errors.NOT_FOUND, "host not found", "unknown host", process.exec(C, "app:nohost"))
        -- not linked: a failing exec child does not affect us (we do not trap here)
        assert(process.set_options({ trap_links = false }))
        t.fails(nil, nil, "failing child again", process.exec(C, H, me, "raise_text"))
        t.eq(process.pid(), me, "still alive")
    end)

    t.test("exec blocks only the calling task", function()
        local done = channel.new(1)
        local log = {}
        coroutine.spawn(function()
            log[#log + 1] = "task ran"
            done:send(true)
        end)
        local v = process.exec(C, H, me, "ret", "ok")
        t.eq(v, "ok", "exec value")
        t.eq(t.recv(done), true, "other task ran")
    end)

    t.test("terminate", function()
        local pid = ready_child(process.spawn_monitored, "block")
        local ok, err = process.terminate(pid)
        t.eq(ok, true, "terminate result")
        t.eq(err, nil, "terminate error")
        local r = t.wait_exit(pid).result
        t.eq(r.value, nil, "value")
        t.errkind(r.error, errors.INTERNAL, "process terminated", "terminated")
        t.fails(errors.NOT_FOUND, "could not resolve", "terminate of an unknown name",
            process.terminate("nobody here"))
        -- by registered name
        local p2 = ready_child(process.spawn_monitored, "register", "term-me")
        t.eq(process.terminate("term-me"), true, "terminate by name")
        t.errkind(t.wait_exit(p2).result.error, errors.INTERNAL, "process terminated", "by name")
    end)

    t.test("cancel: CANCEL event with reason; advisory only", function()
        local pid = ready_child(process.spawn_monitored, "cancellable")
        local ok, err = process.cancel(pid, "please stop")
        t.eq(ok, true, "cancel result")
        t.eq(err, nil, "cancel error")
        local r = t.wait_exit(pid).result
        t.eq(r.error, nil, "cancelled child returned normally")
        t.eq(r.value.kind, process.event.CANCEL, "event kind")
        t.eq(r.value.from, me, "event from")
        t.eq(r.value.reason, "please stop", "event reason")
        t.eq(math.type(r.value.at), "integer", "event at")
        -- default reason
        pid = ready_child(process.spawn_monitored, "cancellable")
        assert(process.cancel(pid))
        t.eq(t.wait_exit(pid).result.value.reason, "", "default reason")
        -- a process that never reads events is unaffected
        pid = ready_child(process.spawn_monitored, "block")
        assert(process.cancel(pid, "ignored"))
        process.send(pid, "go")
        local ev = t.wait_exit(pid)
        t.eq(ev.result.value, "released", "cancel did not stop it")
        t.eq(ev.result.error, nil, "no error")
        -- errors
        t.fails(errors.INVALID, nil, "cancel without dest", process.cancel())
        t.fails(errors.NOT_FOUND, "could not resolve", "unknown name", process.cancel("nobody here"))
    end)

    t.test("cancel of a pid on an unknown host", function()
        local probe = "{app:nohost|" .. me:match("|(0x%x+)}$") .. "}"
        t.fails(errors.INTERNAL, "host not found", "unknown host in pid", process.cancel(probe))
        t.no_event(process.event.CANCEL, me, "CANCEL delivered to ourselves")
    end)

    -- once a monitor has seen a process's EXIT the process is gone for every
    -- operation (spec 03 §5); many rounds, because the window is short
    t.test("operations on a process whose EXIT was seen", function()
        local want = {
            send = { errors.NOT_FOUND, "process not found" },
            terminate = { errors.INTERNAL, "process not found" },
            cancel = { errors.INTERNAL, "process not found" },
            monitor = { errors.INTERNAL, "pid not registered" },
            link = { errors.INTERNAL, "pid not registered" },
        }
        local ops = {
            send = function(pid) return process.send(pid, "to the dead") end,
            terminate = process.terminate, cancel = process.cancel,
            monitor = process.monitor, link = process.link,
        }
        local bad, rounds = {}, 50
        for _ = 1, rounds do
            local pid = dead_pid()
            for _, op in ipairs({ "send", "terminate", "cancel", "monitor", "link" }) do
                local v, err = ops[op](pid)
                local got
                if v ~= nil then
                    got = "returned " .. tostring(v)
                elseif not t.is_error(err) then
                    got = "no error object"
                elseif err:kind() ~= want[op][1] or err:message() ~= want[op][2] then
                    got = string.format("%s %q", err:kind(), err:message())
                end
                if got then
                    bad[op] = bad[op] or {}
                    bad[op][got] = (bad[op][got] or 0) + 1
                end
            end
            t.eq(process.unmonitor(pid), true, "unmonitor of a dead pid")
            t.eq(process.unlink(pid), true, "unlink of a dead pid")
            t.no_event(process.event.EXIT, pid, "EXIT synthesized for a dead target")
        end
        local report = {}
        for _, op in ipairs({ "send", "terminate", "cancel", "monitor", "link" }) do
            for got, n in pairs(bad[op] or {}) do
                report[#report + 1] = string.format("%s: %s in %d of %d rounds (want %s %q)",
                    op, got, n, rounds, want[op][1], want[op][2])
            end
        end
        if #report > 0 then error(table.concat(report, "; ")) end
    end)

    t.test("monitor / unmonitor", function()
        local pid = ready_child(process.spawn, "block")
        local ok, err = process.monitor(pid)
        t.eq(ok, true, "monitor")
        t.eq(err, nil, "monitor error")
        t.fails(errors.INTERNAL, "already monitoring", "monitor twice", process.monitor(pid))
        process.send(pid, "go")
        t.eq(t.wait_exit(pid).result.value, "released", "EXIT value")
        t.fails(errors.NOT_FOUND, "could not resolve", "monitor of an unknown name",
            process.monitor("nobody here"))
        -- unmonitor: no EXIT arrives
        local p2 = ready_child(process.spawn, "block")
        assert(process.monitor(p2))
        ok, err = process.unmonitor(p2)
        t.eq(ok, true, "unmonitor")
        t.eq(err, nil, "unmonitor error")
        t.eq(process.unmonitor(p2), true, "unmonitor when not monitoring")
        process.send(p2, "go")
        barrier()
        t.no_event(process.event.EXIT, p2, "EXIT after unmonitor")
        t.fails(errors.NOT_FOUND, "could not resolve", "unmonitor of an unknown name",
            process.unmonitor("nobody here"))
        -- by registered name
        local p3 = ready_child(process.spawn, "register", "watch-me")
        t.eq(process.monitor("watch-me"), true, "monitor by name")
        process.send("watch-me", "go")
        t.eq(t.wait_exit(p3).result.value, "done", "EXIT via name monitor")
    end)

    t.test("get_options / set_options", function()
        assert(process.set_options({ trap_links = false }))
        local o = process.get_options()
        t.eq(type(o), "table", "get_options type")
        t.eq(o.trap_links, false, "default trap_links")
        local n = select("#", process.set_options({ trap_links = true }))
        t.eq(n, 2, "set_options returns two values")
        local ok, err = process.set_options({ trap_links = true })
        t.eq(ok, true, "set_options ok")
        t.eq(err, nil, "set_options err")
        t.eq(process.get_options().trap_links, true, "trap_links set")
        t.fails_with(false, errors.INVALID, "options parameter must be a table", "non-table",
            process.set_options("trap_links"))
        t.fails_with(false, errors.INVALID, "trap_links must be a boolean", "non-boolean",
            process.set_options({ trap_links = "yes" }))
        t.eq(process.get_options().trap_links, true, "unchanged after a bad value")
        t.fails_with(false, errors.INVALID, "option bogus is not supported", "unknown option",
            process.set_options({ bogus = 1 }))
        t.eq(process.set_options({ [1] = "x", [true] = 1 }), true, "non-string keys ignored")
        -- every key is examined: a valid trap_links is applied despite another error
        t.fails_with(false, errors.INVALID, "not supported", "mixed",
            process.set_options({ trap_links = false, bogus = 1 }))
        t.eq(process.get_options().trap_links, false, "trap_links applied in a failing call")
        assert(process.set_options({ trap_links = true }))
        local copy = process.get_options()
        copy.trap_links = false
        t.eq(process.get_options().trap_links, true, "get_options returns a copy")
    end)

    t.test("link / unlink and their errors", function()
        assert(process.set_options({ trap_links = true }))
        local pid = ready_child(process.spawn_monitored, "block")
        local ok, err = process.link(pid)
        t.eq(ok, true, "link")
        t.eq(err, nil, "link error")
        t.eq(process.link(pid), true, "link is idempotent")
        ok, err = process.unlink(pid)
        t.eq(ok, true, "unlink")
        t.eq(err, nil, "unlink error")
        t.eq(process.unlink(pid), true, "unlink when not linked")
        process.send(pid, "go")
        t.eq(t.wait_exit(pid).result.value, "released", "EXIT")
        t.fails(errors.NOT_FOUND, "could not resolve", "link to an unknown name", process.link("nobody here"))
        t.fails(errors.NOT_FOUND, "could not resolve", "unlink of an unknown name",
            process.unlink("nobody here"))
        -- unlinked: the failure of the former partner sends no LINK_DOWN
        local f = ready_child(process.spawn_monitored, "fail_on_msg")
        assert(process.link(f))
        assert(process.unlink(f))
        process.send(f, "fail")
        t.check(t.wait_exit(f).result.error, "partner failed")
        barrier()
        t.no_event(process.event.LINK_DOWN, f, "LINK_DOWN after unlink")
        -- unlink by the other side removes the link in both directions
        local f2 = ready_child(process.spawn_monitored, "fail_on_msg")
        local survivor = ready_child(process.spawn_monitored, "link_unlink", f2)
        process.send(f2, "fail")
        t.check(t.wait_exit(f2).result.error, "partner 2 failed")
        process.send(survivor, "go")
        local ev = t.wait_exit(survivor)
        t.eq(ev.result.error, nil, "unlinked process survived")
        t.eq(ev.result.value, "survived", "survivor value")
    end)

    t.test("LINK_DOWN: trapped by a process that links to a failing one", function()
        local f = ready_child(process.spawn_monitored, "fail_on_msg")
        local trapper = ready_child(process.spawn_monitored, "trap_report", f)
        process.send(f, "fail")
        local r = t.wait_exit(trapper).result
        t.eq(r.error, nil, "trapper survived")
        t.eq(r.value.kind, process.event.LINK_DOWN, "kind")
        t.eq(r.value.from, f, "from")
        t.eq(math.type(r.value.at), "integer", "at")
        t.eq(r.value.has_result, true, "result present")
        t.contains(r.value.err, "linked child failed", "result.error")
        t.eq(r.value.err_kind, errors.INTERNAL, "result.error kind")
    end)

    t.test("LINK_DOWN: spawn_linked, abnormal exits only", function()
        assert(process.set_options({ trap_links = true }))
        -- abnormal
        local pid = ready_child(process.spawn_linked, "fail_on_msg")
        process.send(pid, "fail")
        local ev = t.wait_event(process.event.LINK_DOWN, pid)
        t.eq(ev.kind, process.event.LINK_DOWN, "kind")
        t.eq(ev.from, pid, "from")
        t.eq(math.type(ev.at), "integer", "at")
        t.errkind(ev.result.error, nil, "linked child failed", "result.error")
        t.eq(ev.result.value, nil, "result.value")
        -- terminate is abnormal too
        pid = ready_child(process.spawn_linked, "block")
        assert(process.terminate(pid))
        ev = t.wait_event(process.event.LINK_DOWN, pid)
        t.errkind(ev.result.error, errors.INTERNAL, "process terminated", "terminated partner")
        -- normal exit: EXIT but no LINK_DOWN
        pid = ready_child(process.spawn_linked_monitored, "block")
        process.send(pid, "go")
        t.eq(t.wait_exit(pid).result.value, "released", "EXIT value")
        barrier()
        t.no_event(process.event.LINK_DOWN, pid, "LINK_DOWN on a normal exit")
        -- a child exiting immediately still produces the events
        pid = assert(process.spawn_linked_monitored(C, H, me, "raise_text"))
        t.errkind(t.wait_event(process.event.LINK_DOWN, pid).result.error, nil, "plain failure",
            "immediate failure LINK_DOWN")
        t.errkind(t.wait_exit(pid).result.error, nil, "plain failure", "immediate failure EXIT")
    end)

    t.test("LINK_DOWN kills a non-trapping process that never called events()", function()
        local f = ready_child(process.spawn_monitored, "fail_on_msg")
        local victim = ready_child(process.spawn_monitored, "link_to", f)
        process.send(f, "fail")
        t.check(t.wait_exit(f).result.error, "failer error")
        local r = t.wait_exit(victim).result
        t.eq(r.value, nil, "victim value")
        t.errkind(r.error, nil, "linked process failed", "victim error")
        t.eq(r.error:message(), "linked process failed", "victim message")
        t.eq(r.error:kind(), errors.UNKNOWN, "victim error kind")
    end)

    t.test("LINK_DOWN cascades along a chain of links", function()
        local c = ready_child(process.spawn_monitored, "fail_on_msg")
        local b = ready_child(process.spawn_monitored, "link_to", c)
        local a = ready_child(process.spawn_monitored, "link_to", b)
        -- and a trapping observer at the end of the chain
        local obs = ready_child(process.spawn_monitored, "trap_report", a)
        process.send(c, "fail")
        t.contains(t.wait_exit(c).result.error, "linked child failed", "c")
        t.contains(t.wait_exit(b).result.error, "linked process failed", "b")
        t.contains(t.wait_exit(a).result.error, "linked process failed", "a")
        local r = t.wait_exit(obs).result
        t.eq(r.error, nil, "observer survived")
        t.eq(r.value.kind, process.event.LINK_DOWN, "observer got LINK_DOWN")
        t.eq(r.value.from, a, "from a")
        t.contains(r.value.err, "linked process failed", "observer's result.error")
    end)

    t.test("spawn_linked_monitored: both events on failure", function()
        assert(process.set_options({ trap_links = true }))
        local pid = ready_child(process.spawn_linked_monitored, "fail_on_msg")
        process.send(pid, "fail")
        t.contains(t.wait_exit(pid).result.error, "linked child failed", "EXIT")
        t.contains(t.wait_event(process.event.LINK_DOWN, pid).result.error, "linked child failed",
            "LINK_DOWN")
    end)

    t.test("listen: raw mode, message mode, identity, unlisten", function()
        local ch = process.listen("lt.raw")
        t.eq(type(ch), "userdata", "listen returns a channel")
        t.check(rawequal(process.listen("lt.raw"), ch), "same channel for the same topic")
        t.check(ch ~= inbox, "listen channel is not the inbox")
        assert(process.send(me, "lt.raw", 42))
        local v, ok = t.recv(ch)
        t.eq(v, 42, "1 payload -> the value")
        t.eq(ok, true, "ok")
        assert(process.send(me, "lt.raw"))
        v, ok = t.recv(ch)
        t.eq(v, nil, "0 payloads -> nil")
        t.eq(ok, true, "ok for nil")
        assert(process.send(me, "lt.raw", "a", { b = 1 }))
        v = t.recv(ch)
        t.eq(type(v), "table", "2 payloads -> an array")
        t.eq(v[1], "a", "value 1")
        t.same(v[2], { b = 1 }, "value 2")
        -- other topics still go to the inbox
        assert(process.send(me, "lt.other", 1))
        t.eq(t.expect_msg("lt.other"):payload():data(), 1, "other topic in the inbox")
        t.nothing(ch, "listen channel")
        -- message mode
        local mch = process.listen("lt.msg", { message = true })
        assert(process.send(me, "lt.msg", "x", "y"))
        local msg = t.recv(mch)
        t.eq(msg:topic(), "lt.msg", "message topic")
        t.eq(msg:from(), me, "message from")
        t.eq(#msg:payload(), 2, "message payload list")
        t.eq(msg:payload()[2]:data(), "y", "message payload 2")
        assert(process.send(me, "lt.msg", "one"))
        t.eq(t.recv(mch):payload():data(), "one", "message single payload")
        -- explicit raw mode
        local rch = process.listen("lt.raw2", { message = false })
        assert(process.send(me, "lt.raw2", "r"))
        t.eq(t.recv(rch), "r", "message = false is raw")
        -- unlisten closes the channel; later messages fall back to the inbox
        local r1, r2 = process.unlisten(ch)
        t.eq(r1, true, "unlisten")
        v, ok = t.recv(ch)
        t.eq(v, nil, "closed listen channel value")
        t.eq(ok, false, "closed listen channel ok")
        assert(process.send(me, "lt.raw", "back"))
        t.eq(t.expect_msg("lt.raw"):payload():data(), "back", "after unlisten: inbox")
        t.eq(process.unlisten(mch), true, "unlisten message mode")
        t.eq(process.unlisten(rch), true, "unlisten raw2")
        -- errors
        t.fails(errors.INVALID, "topic cannot be empty", "empty topic", process.listen(""))
        t.fails(errors.INVALID, "cannot listen to @ topics", "@ topic", process.listen("@pid/events"))
        t.raises(nil, "unlisten of a non-channel", process.unlisten, "lt.raw")
        t.raises(nil, "unlisten of nothing", process.unlisten)
    end)

    t.test("listen: a queued message follows a listen made before it was taken", function()
        local pid = assert(process.spawn_monitored(C, H, me, "sender", "late.topic", 2))
        t.eq(t.wait_exit(pid).result.value, "sent", "sender done")
        -- the two messages wait in our queue (nobody receives on the inbox)
        local ch = process.listen("late.topic")
        t.eq(t.recv(ch), 1, "first queued message")
        t.eq(t.recv(ch), 2, "second queued message")
        process.unlisten(ch)
    end)

    t.test("registry: register / lookup / unregister", function()
        local reg = process.registry
        local ok, err = reg.register("mod_process.me")
        t.eq(ok, true, "register self")
        t.eq(err, nil, "register error")
        t.eq(reg.lookup("mod_process.me"), me, "lookup")
        t.eq(reg.register("mod_process.me"), true, "idempotent for the same pid")
        t.eq(reg.register("mod_process.me", me), true, "explicit own pid")
        t.eq(reg.register("mod_process.alias", me, reg.LOCAL), true, "second name, explicit scope")
        t.eq(reg.lookup("mod_process.alias"), me, "lookup second name")
        -- send by name
        assert(process.send("mod_process.me", "by-name", 1))
        t.eq(t.expect_msg("by-name"):from(), me, "message sent by name")
        -- a name held by another process
        local other = ready_child(process.spawn_monitored, "register", "mod_process.other")
        t.eq(reg.lookup("mod_process.other"), other, "other's name")
        t.fails(errors.ALREADY_EXISTS, "name already registered", "taken name",
            reg.register("mod_process.other"))
        t.eq(reg.lookup("mod_process.other"), other, "not stolen")
        -- register another process's pid
        t.eq(reg.register("mod_process.for-other", other), true, "register for another pid")
        t.eq(reg.lookup("mod_process.for-other"), other, "lookup for-other")
        -- names are released when the owner ends
        process.send(other, "go")
        t.wait_exit(other)
        t.fails(errors.NOT_FOUND, "name not registered", "released name", reg.lookup("mod_process.other"))
        t.fails(errors.NOT_FOUND, "name not registered", "released name 2",
            reg.lookup("mod_process.for-other"))
        -- unregister
        t.eq(reg.unregister("mod_process.alias"), true, "unregister")
        t.fails(errors.NOT_FOUND, "name not registered", "unregistered", reg.lookup("mod_process.alias"))
        t.eq(reg.unregister("mod_process.alias"), false, "unregister of a free name")
        t.eq(reg.unregister("mod_process.me", reg.LOCAL), true, "unregister with scope")
        t.fails(errors.NOT_FOUND, "could not resolve", "send to a removed name",
            process.send("mod_process.me", "x"))
        -- any process may unregister a local name
        local o2 = ready_child(process.spawn_monitored, "register", "mod_process.o2")
        t.eq(reg.unregister("mod_process.o2"), true, "unregister another's name")
        t.fails(errors.NOT_FOUND, nil, "lookup after", reg.lookup("mod_process.o2"))
        process.send(o2, "go")
        t.wait_exit(o2)
        -- errors
        t.fails(errors.INVALID, nil, "register with a bad pid", reg.register("mod_process.bad", "not a pid"))
        t.fails(errors.INVALID, nil, "register with a non-number scope",
            reg.register("mod_process.bad", me, "local"))
        t.fails(errors.INTERNAL, nil, "EVENTUAL on a standalone node",
            reg.register("mod_process.ev", me, reg.EVENTUAL))
        t.fails(errors.INTERNAL, nil, "CONSISTENT on a standalone node",
            reg.register("mod_process.co", me, reg.CONSISTENT))
        t.fails(errors.NOT_FOUND, nil, "nothing registered by failed calls", reg.lookup("mod_process.bad"))
    end)

    return t.finish()
end

return { main = main }
