-- mod_library: library.lua entries and imports (spec 01 §4.3, §5; 05 §1-2).

local function main()
    t.test("require(alias) and the global alias are the same value", function()
        t.eq(type(mathlib), "table", "global alias")
        t.check(rawequal(require("mathlib"), mathlib), "require(alias) == global")
        t.check(rawequal(require("mathlib"), require("mathlib")), "same value every time")
        t.eq(mathlib.square(9), 81, "library function")
    end)

    t.test("the library's own modules are available to its code", function()
        t.eq(mathlib.encode({ 1, 2 }), "[1,2]", "json inside the library")
    end)

    t.test("a library importing another library", function()
        t.eq(wrap.sum_of_squares(3, 4), 25, "transitive import")
        t.eq(wrap.encode_twice({ 1 }), '["[1]"]', "require inside the library")
    end)

    t.test("a library whose value is a function", function()
        t.eq(type(fnlib), "function", "function value")
        t.eq(fnlib(5), "fn:5", "call it")
        t.eq(require("fnlib")(6), "fn:6", "via require")
    end)

    t.test("the chunk runs once per process; locals stay private", function()
        t.eq(mathlib.loads(), 1, "loaded once in this process (also imported by wrapper)")
        t.eq(mathlib.secret, nil, "local not exported")
        t.eq(mathlib.peek_secret(), "hidden", "closure sees its local")
        t.eq(mathlib.bump(), 1, "state 1")
        t.eq(mathlib.bump(), 2, "state 2")
        t.eq(require("mathlib").bump(), 3, "same state via require")
        t.eq(wrap.sum_of_squares(1, 1), 2, "wrapper still works")
    end)

    t.test("each importing process gets its own copy", function()
        for _ = 1, 2 do
            local pid = assert(process.spawn_monitored("app:child", "app:processes"))
            local r = t.wait_exit(pid).result
            t.eq(r.error, nil, "child error")
            t.eq(r.value.bump, 1, "fresh state in the child")
            t.eq(r.value.loads, 1, "loaded once in the child")
            t.eq(r.value.square, 49, "library works in the child")
        end
        t.eq(mathlib.bump(), 4, "our state unaffected by the children")
    end)

    t.test("unknown aliases and unimported libraries", function()
        t.raises("module 'nosuch' not found", "unknown alias", require, "nosuch")
        t.raises("module 'badlib' not found", "library not imported here", require, "badlib")
    end)

    t.test("a library chunk that raises fails the importing process", function()
        local pid = assert(process.spawn_monitored("app:uses_badlib", "app:processes"))
        local r = t.wait_exit(pid).result
        t.eq(r.value, nil, "value")
        t.errkind(r.error, nil, "library chunk exploded", "error")
    end)

    return t.finish()
end

return { main = main }
