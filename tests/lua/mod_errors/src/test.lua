-- mod_errors: the `errors` global and error objects (spec 05 §6).

local function main()
    t.test("constants", function()
        t.eq(errors.UNKNOWN, "", "UNKNOWN")
        t.eq(errors.INVALID, "Invalid", "INVALID")
        t.eq(errors.NOT_FOUND, "NotFound", "NOT_FOUND")
        t.eq(errors.ALREADY_EXISTS, "AlreadyExists", "ALREADY_EXISTS")
        t.eq(errors.PERMISSION_DENIED, "PermissionDenied", "PERMISSION_DENIED")
        t.eq(errors.UNAVAILABLE, "Unavailable", "UNAVAILABLE")
        t.eq(errors.INTERNAL, "Internal", "INTERNAL")
        t.eq(errors.CANCELED, "Canceled", "CANCELED")
        t.eq(errors.CONFLICT, "Conflict", "CONFLICT")
        t.eq(errors.TIMEOUT, "Timeout", "TIMEOUT")
        t.eq(errors.RATE_LIMITED, "RateLimited", "RATE_LIMITED")
        t.eq(require("errors"), errors, "require('errors')")
    end)

    t.test("new(string)", function()
        local e = errors.new("plain message")
        t.eq(type(e), "userdata", "type")
        t.eq(e:message(), "plain message", "message")
        t.eq(e:kind(), errors.UNKNOWN, "kind unknown")
        t.eq(e:retryable(), nil, "retryable unknown")
        t.eq(e:details(), nil, "no details")
        t.eq(tostring(e), "plain message", "tostring")
        t.eq(errors.new(""):message(), "", "empty message")
    end)

    t.test("new(table)", function()
        local e = errors.new({ message = "m", kind = errors.TIMEOUT, retryable = true,
                               details = { a = "b", n = 1, nested = { x = { 1, 2 } }, [1] = "dropped",
                                           [true] = "dropped" } })
        t.eq(e:message(), "m", "message")
        t.eq(e:kind(), errors.TIMEOUT, "kind")
        t.eq(e:retryable(), true, "retryable")
        local d = e:details()
        t.eq(type(d), "table", "details table")
        t.eq(d.a, "b", "details.a")
        t.eq(d.n, 1, "details.n")
        t.same(d.nested, { x = { 1, 2 } }, "nested details kept")
        t.eq(d[1], nil, "non-string key dropped")
        t.eq(d[true], nil, "boolean key dropped")
        t.eq(errors.new({ message = "m", retryable = false }):retryable(), false, "retryable false")
        local only = errors.new({ message = "only" })
        t.eq(only:kind(), "", "kind defaults to unknown")
        t.eq(only:retryable(), nil, "retryable defaults to unknown")
        t.eq(only:details(), nil, "details default")
        t.eq(errors.new({ message = "m", details = {} }):details(), nil, "empty details -> nil")
        t.eq(errors.new({ message = "m", details = { [1] = "x" } }):details(), nil,
            "details with only non-string keys -> nil")
        t.eq(errors.new({ message = "m", kind = "CustomKind" }):kind(), "CustomKind", "any kind string")
    end)

    t.test("new: errors raise", function()
        t.raises(nil, "table without message", errors.new, { kind = errors.INVALID })
        t.raises(nil, "non-string message", errors.new, { message = 42 })
        t.raises(nil, "number argument", errors.new, 42)
        t.raises(nil, "boolean argument", errors.new, true)
        t.raises(nil, "nil argument", errors.new, nil)
        t.raises(nil, "no argument", errors.new)
        -- there is no (kind, message) form: the first argument is the message
        local e = errors.new("NotFound", "the real message")
        t.eq(e:message(), "NotFound", "two-argument form: first is the message")
        t.eq(e:kind(), "", "two-argument form: no kind")
    end)

    t.test("wrap", function()
        local base = errors.new({ message = "disk full", kind = errors.UNAVAILABLE, retryable = true,
                                  details = { dev = "sda" } })
        local w = errors.wrap(base, "saving file")
        t.eq(type(w), "userdata", "wrap returns an error")
        t.eq(w:message(), "disk full", "message is the wrapped error's text")
        t.eq(tostring(w), "disk full", "tostring excludes the context")
        t.eq(w:kind(), errors.UNAVAILABLE, "kind kept")
        t.eq(w:retryable(), true, "retryable kept")
        t.eq(w:details().dev, "sda", "details kept")
        t.contains(w:stack(), "saving file", "context in stack()")
        t.contains(w:stack(), "disk full", "message in stack()")
        t.eq(base:message(), "disk full", "original unchanged")
        -- wrapping twice: the inner context becomes part of the message
        local w2 = errors.wrap(w, "handling request")
        t.eq(w2:message(), "saving file: disk full", "inner context prefixed")
        t.contains(w2:stack(), "handling request", "outer context in stack()")
        t.eq(w2:kind(), errors.UNAVAILABLE, "kind through two wraps")
        -- strings and error contexts
        local ws = errors.wrap("raw text", "ctx")
        t.eq(ws:message(), "raw text", "wrap of a string")
        t.eq(ws:kind(), "", "wrap of a string: unknown kind")
        t.contains(ws:stack(), "ctx", "string wrap context")
        local we = errors.wrap(base, errors.new("ctx from an error"))
        t.contains(we:stack(), "ctx from an error", "error as context")
        t.eq(we:message(), "disk full", "message with an error context")
    end)

    t.test("is", function()
        local e = errors.new({ message = "x", kind = errors.NOT_FOUND })
        t.eq(errors.is(e, errors.NOT_FOUND), true, "same kind")
        t.eq(errors.is(e, errors.INVALID), false, "other kind")
        t.eq(errors.is(errors.new("x"), errors.UNKNOWN), true, "unknown kind")
        t.eq(errors.is("NotFound", errors.NOT_FOUND), false, "a string is not an error")
        t.eq(errors.is(nil, errors.NOT_FOUND), false, "nil")
        t.eq(errors.is({ kind = "NotFound" }, errors.NOT_FOUND), false, "a table")
        t.eq(errors.is(errors.wrap(e, "c"), errors.NOT_FOUND), true, "wrapped error")
    end)

    t.test("wrap and is: argument types (spec 10 §7.2)", function()
        t.raises(nil, "wrap(nil, ctx)", errors.wrap, nil, "ctx")
        t.raises(nil, "wrap(table, ctx)", errors.wrap, {}, "ctx")
        t.raises(nil, "wrap(e, nil)", errors.wrap, errors.new("x"), nil)
        t.raises(nil, "wrap(e, number)", errors.wrap, errors.new("x"), 5)
        t.raises(nil, "wrap(e)", errors.wrap, errors.new("x"))
        t.raises(nil, "is(e, nil)", errors.is, errors.new("x"), nil)
        t.raises(nil, "is(e, table)", errors.is, errors.new("x"), {})
        t.raises(nil, "is(e)", errors.is, errors.new("x"))
        t.eq(errors.is(errors.new("x"), ""), true, "is(e, ''): unknown kind")
        t.eq(errors.is(errors.new({ message = "x", kind = errors.INVALID }), ""), false,
            "is(e, ''): a known kind")
        t.eq(errors.is("x", ""), false, "is(string, '')")
    end)

    -- Frames of a captured stack, checked field by field; returns the
    -- frames.
    local function frames_of(cs, what)
        t.eq(type(cs), "table", what .. ": a table")
        t.eq(type(cs.thread), "string", what .. ": thread")
        t.check(#cs.thread > 0, what .. ": thread not empty")
        t.eq(type(cs.frames), "table", what .. ": frames")
        t.check(#cs.frames >= 1, what .. ": at least one frame")
        for i, f in ipairs(cs.frames) do
            local w = what .. ": frame " .. i
            t.eq(f.level, i - 1, w .. " level")
            t.eq(math.type(f.line), "integer", w .. " line")
            t.eq(type(f.source), "string", w .. " source")
            t.eq(type(f.name), "string", w .. " name")
            t.check(f.type == "Lua" or f.type == "main" or f.type == "C", w .. " type " ..
                tostring(f.type))
            if f.type == "C" then t.eq(f.line, -1, w .. " C line") end
        end
        return cs.frames
    end

    -- The frame of Lua function `name` in test.lua, or nil.
    local function find_frame(frames, name)
        for _, f in ipairs(frames) do
            if f.name == name and f.type == "Lua" and string.find(f.source, "test", 1, true) then
                return f
            end
        end
    end

    t.test("call_stack (spec 10 §7.1)", function()
        -- (no tail calls below: a tail call leaves no frame of its caller)
        local function make_error()
            local r = errors.new("deep")
            return r
        end
        local e = make_error()
        local frames = frames_of(errors.call_stack(e), "new")
        t.eq(frames[1].type, "C", "the first frame is errors.new itself")
        t.eq(frames[1].name, "new", "named new")
        local mf = find_frame(frames, "make_error")
        t.check(mf ~= nil, "the frame of make_error is there")
        t.eq(mf.level, 1, "make_error called errors.new")
        t.check(mf.line > 0, "make_error's line")
        -- the stack is the creation's, not the caller's of call_stack
        local again = errors.call_stack(e)
        t.check(again ~= errors.call_stack(e), "a fresh table per call")
        t.eq(#again.frames, #frames, "the same frames each time")
        -- wrap captures where it wraps
        local function wrap_it(x)
            local r = errors.wrap(x, "ctx")
            return r
        end
        local wf = frames_of(errors.call_stack(wrap_it(e)), "wrap")
        t.eq(wf[1].name, "wrap", "wrap's first frame")
        t.check(find_frame(wf, "wrap_it") ~= nil, "wrap_it's frame")
        t.eq(find_frame(wf, "make_error"), nil, "not the stack of the wrapped error")
        -- an error a module function returns has the stack of its call
        local _, te = time.after(0)
        local tf = frames_of(errors.call_stack(te), "time.after error")
        t.eq(tf[1].type, "C", "time.after's frame first")
        -- a deep recursion keeps a bounded number of frames
        local function deep(n)
            if n == 0 then
                local r = errors.new("bottom")
                return r
            end
            local r = deep(n - 1)
            return r
        end
        local df = frames_of(errors.call_stack(deep(200)), "deep")
        t.check(#df < 200, "bounded frames: " .. #df)
        -- a coroutine's error: its thread's stack
        local co = coroutine.create(function() return errors.new("in co") end)
        local ok, ce = coroutine.resume(co)
        t.eq(ok, true, "resume")
        local cs = errors.call_stack(ce)
        frames_of(cs, "coroutine")
        t.check(cs.thread ~= errors.call_stack(e).thread, "another thread")
        -- nil for non-errors
        t.eq(errors.call_stack("text"), nil, "a string")
        t.eq(errors.call_stack(nil), nil, "nil")
        t.eq(errors.call_stack({}), nil, "a table")
        t.eq(errors.call_stack(), nil, "no argument")
        -- nil for an error that arrived from another process
        assert(process.send(process.pid(), "err", e))
        local got = t.expect_msg("err"):payload():data()
        t.errkind(got, "", "deep", "copied error")
        t.eq(errors.call_stack(got), nil, "a copied error carries no stack")
    end)

    t.test("methods: stack", function()
        local e = errors.new("stack me")
        t.eq(type(e:stack()), "string", "stack is a string")
        t.contains(e:stack(), "stack me", "stack mentions the message")
    end)

    t.test("tostring and concatenation", function()
        local e = errors.new("boom")
        t.eq(tostring(e), "boom", "tostring")
        t.eq("x: " .. e, "x: boom", "left concat")
        t.eq(e .. "!", "boom!", "right concat")
        t.eq(e .. e, "boomboom", "error .. error")
        t.eq(1 .. e, "1boom", "number .. error")
        t.eq(e .. 2, "boom2", "error .. number")
        t.eq("a" .. e .. "b" .. 3, "aboomb3", "chained")
        t.raises(nil, "error .. table", function() return e .. {} end)
        t.raises(nil, "nil .. error", function() return nil .. e end)
    end)

    t.test("string.* functions accept error objects", function()
        local e = errors.new("thing not found")
        t.check(string.find(e, "not found"), "string.find")
        t.eq(string.find(e, "not", 1, true), 7, "string.find plain")
        t.eq(string.len(e), 15, "string.len")
        t.eq(string.sub(e, 1, 5), "thing", "string.sub")
        t.eq(string.upper(e), "THING NOT FOUND", "string.upper")
        t.eq(string.lower(errors.new("ABC")), "abc", "string.lower")
        t.eq(string.format("%s!", e), "thing not found!", "string.format %s")
        t.eq(string.format("[%q]", errors.new("q")), '["q"]', "string.format %q")
        t.eq(string.match(e, "(%a+) not"), "thing", "string.match")
        t.eq((string.gsub(e, "thing", "item")), "item not found", "string.gsub")
        t.eq(string.rep(errors.new("ab"), 3), "ababab", "string.rep")
        t.eq(string.byte(errors.new("A")), 65, "string.byte")
        t.eq(string.reverse(errors.new("abc")), "cba", "string.reverse")
        local words = {}
        for w in string.gmatch(e, "%a+") do words[#words + 1] = w end
        t.same(words, { "thing", "not", "found" }, "string.gmatch")
        t.check(string.find("xx thing not found", e, 1, true), "error object as the pattern")
        -- a runtime error object
        local ok, serr = process.send("{app:processes|0xffffe}", "x")
        t.eq(ok, nil, "send to a missing pid")
        t.check(string.find(serr, "not found"), "string.find on a runtime error: " .. tostring(serr))
    end)

    t.test("print accepts error objects", function()
        -- (the -c flag of this case makes the log visible; expect_stdout checks it)
        print(errors.new("print-accepts-this-error-object"))
        print("print-joins", 7, errors.new("another-error-object"))
    end)

    t.test("error(obj) is caught unchanged by pcall", function()
        local e = errors.new({ message = "raised", kind = errors.CONFLICT })
        local ok, got = pcall(error, e)
        t.eq(ok, false, "pcall")
        t.check(rawequal(got, e), "the same object")
        ok, got = pcall(function() error(e, 2) end)
        t.check(rawequal(got, e), "level does not wrap an object")
        ok, got = xpcall(function() error(e) end, function(x) return x end)
        t.check(rawequal(got, e), "xpcall handler receives the object")
    end)

    t.test("error objects cross processes intact", function()
        local e = errors.new({ message = "travel", kind = errors.RATE_LIMITED, retryable = false,
                               details = { n = 3 } })
        assert(process.send(process.pid(), "err", e))
        local got = t.expect_msg("err"):payload():data()
        t.errkind(got, errors.RATE_LIMITED, "travel", "copied error")
        t.eq(got:retryable(), false, "retryable")
        t.eq(got:details().n, 3, "details")
    end)

    t.test("runtime errors are error objects with kinds", function()
        local _, err = process.send("no such name anywhere", "x")
        t.errkind(err, errors.NOT_FOUND, "could not resolve", "send error")
        t.eq(errors.is(err, errors.NOT_FOUND), true, "errors.is on a runtime error")
        _, err = time.after(0)
        t.errkind(err, errors.INVALID, nil, "time.after(0)")
    end)

    return t.finish()
end

return { main = main }
