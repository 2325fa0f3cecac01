-- mod_globals: the Lua environment of a process (spec 05 §1-3, 04 §5.3, 09 §3).

local function main()
    t.test("string(x) is a cast", function()
        t.eq(string("abc"), "abc", "string of a string")
        t.eq(string(""), "", "empty string")
        t.eq(string(42), "42", "string of an integer")
        t.eq(string(1.5), "1.5", "string of a float")
        t.eq(type(string(true)), "string", "string of a boolean")
        t.eq(string(process.pid()), process.pid(), "string(pid)")
        t.eq(string(errors.new("msg")), "msg", "string of an error object")
    end)

    t.test("string methods on string values", function()
        t.eq(("abc"):upper(), "ABC", "method on a literal")
        local s = "x"
        t.eq(s:rep(3), "xxx", "method on a variable")
        t.eq(#("héllo"), 6, "# counts bytes")
        t.eq(("a,b"):find(",", 1, true), 2, "find")
        t.eq("10" + 5, 15, "arithmetic coercion")
    end)

    t.test("unpack is a global", function()
        t.eq(type(unpack), "function", "type(unpack)")
        t.eq(unpack, table.unpack, "same as table.unpack")
        local a, b, c = unpack({ 1, 2, 3 })
        t.eq(a + b + c, 6, "values")
        t.eq(select("#", unpack({ 1, nil, 3 }, 1, 3)), 3, "explicit range")
    end)

    t.test("os subset", function()
        t.eq(os.platform, "wippy", "os.platform")
        t.eq(math.type(os.time()), "integer", "os.time()")
        t.check(math.abs(os.time() - time.now():unix()) <= 2, "os.time() is now")
        t.eq(os.time({ year = 2024, month = 1, day = 1, hour = 12 }) -
             os.time({ year = 2024, month = 1, day = 2, hour = 12 }), -86400, "os.time(table)")
        t.eq(type(os.clock()), "number", "os.clock()")
        t.eq(os.date("!%Y-%m-%d %H:%M:%S", 0), "1970-01-01 00:00:00", "os.date with a time")
        t.eq(type(os.date()), "string", "os.date()")
        t.eq(os.date("!*t", 86400).day, 2, "os.date('*t')")
        t.eq(os.difftime(10, 4), 6.0, "os.difftime")
        for _, name in ipairs({ "execute", "exit", "remove", "rename", "tmpname", "getenv", "setlocale" }) do
            t.eq(os[name], nil, "os." .. name)
        end
    end)

    t.test("code loading and other hidden functions are absent", function()
        for _, name in ipairs({ "load", "loadstring", "loadfile", "dofile", "collectgarbage",
                                "rawlen", "debug" }) do
            t.eq(rawget(_G, name), nil, name)
        end
        t.eq(load, nil, "load")
        t.eq(dofile, nil, "dofile")
        local pkg = rawget(_G, "package")
        t.eq(pkg and pkg.loadlib, nil, "package.loadlib")
    end)

    t.test("base functions are present", function()
        for _, name in ipairs({ "assert", "error", "pcall", "xpcall", "type", "tostring", "tonumber",
                                "pairs", "ipairs", "next", "select", "rawget", "rawset", "rawequal",
                                "getmetatable", "setmetatable", "unpack", "print", "require" }) do
            t.eq(type(_G[name]), "function", name)
        end
        t.check(rawequal(_G._G, _G), "_G")
        t.eq(type(_VERSION), "string", "_VERSION")
        t.eq(tonumber("0x10"), 16, "tonumber")
        t.eq(select("#", print("globals: print returns nothing")), 0, "print returns nothing")
        t.eq(select("#", print(nil, {}, errors.new("e"), 1.5, true)), 0, "print of any values")
    end)

    t.test("always-available and listed modules", function()
        t.eq(require("time"), time, "listed module")
        local pid = assert(process.spawn_monitored("app:bare", "app:processes"))
        local r = t.wait_exit(pid).result
        t.eq(r.error, nil, "bare process error")
        local v = r.value
        for _, name in ipairs({ "time", "json", "logger", "funcs", "io" }) do
            t.eq(v[name].global, "nil", name .. " global without listing")
            t.eq(v[name].require_ok, false, "require('" .. name .. "') without listing")
            t.contains(v[name].err, "module '" .. name .. "' not found", name .. " message")
        end
        for _, name in ipairs({ "process", "channel", "errors", "payload", "coroutine", "string",
                                "table", "math", "os" }) do
            t.eq(v[name].global, "table", name .. " global")
            t.eq(v[name].require_ok, true, "require('" .. name .. "')")
            t.eq(v[name].same, true, "require('" .. name .. "') is the global")
        end
        t.eq(v.spawn, "function", "coroutine.spawn")
        t.raises("module 'nosuchmodule' not found", "unknown module", require, "nosuchmodule")
    end)

    t.test("standard coroutines work for generators", function()
        local gen = coroutine.wrap(function()
            for i = 1, 3 do coroutine.yield(i) end
        end)
        t.eq(gen() + gen() + gen(), 6, "wrap")
        local co = coroutine.create(function(a) local b = coroutine.yield(a + 1) return b * 2 end)
        local ok, v = coroutine.resume(co, 1)
        t.eq(v, 2, "resume 1")
        t.eq(coroutine.status(co), "suspended", "status")
        ok, v = coroutine.resume(co, 5)
        t.eq(v, 10, "resume 2")
        t.eq(coroutine.status(co), "dead", "dead")
        t.eq(type(coroutine.running()), "thread", "running")
    end)

    t.test("_G is per process and writable", function()
        my_global_value = 1
        t.eq(_G.my_global_value, 1, "global write")
        _G.other_global = "x"
        t.eq(other_global, "x", "_G write")
        local pid = assert(process.spawn_monitored("app:bare", "app:processes"))
        local r = t.wait_exit(pid).result
        t.eq(r.error, nil, "another process runs unaffected")
        t.eq(r.value.leak, nil, "our global is not visible in another process")
    end)

    return t.finish()
end

return { main = main }
