-- mod_dialect: type-annotated Lua of every form loads and runs; plain Lua
-- using the word `type` passes through; error positions keep their lines.
type Stats = {count: number, total: number, names: {string}}
type Handler = (msg: string, n: number?) -> boolean
type Dict = {[string]: any}
type List = any[]
type Either = "left" | "right"
type Id<T> = T
export type Exported = {value: Id<number>}

local function make_stats(): Stats
    local s: Stats = { count = 0, total = 0, names = {} }
    return s
end

local function main(): integer
    t.test("annotated locals, parameters and returns", function()
        local s: Stats = make_stats()
        t.eq(s.count, 0, "typed local")
        local d: Dict = { a = 1 }
        local l: List = { 1, "x" }
        local any_list: any[] = {}
        local m: {[string]: any} = { k = true }
        local p: {x: number} = { x = 3 }
        local maybe: string? = nil
        local u: "a" | "b" = "a"
        local e: Either = "left"
        local n: number, str: string = 1, "s"
        local f: (number) -> number = function(v: number): number return v * 2 end
        local h: Handler = function(msg: string, k: number?): boolean return msg ~= "" end
        t.eq(d.a + #l + #any_list + p.x, 6, "values")
        t.eq(m.k, true, "map type")
        t.eq(maybe, nil, "optional")
        t.eq(u .. e, "aleft", "literal types")
        t.eq(n .. str, "1s", "two annotated locals")
        t.eq(f(21), 42, "function type")
        t.eq(h("x"), true, "named function type")
    end)

    t.test("casts with ::", function()
        local v: any = "text"
        local s = v :: string
        t.eq(s, "text", "cast")
        local n = (10 :: any) :: number
        t.eq(n + 1, 11, "nested casts")
        local tbl = { x = 1 } :: {x: number}
        t.eq(tbl.x, 1, "cast of a table constructor")
    end)

    t.test("a typed library: generics, function types, exports", function()
        t.eq(typed_lib.add(2, 3), 5, "add")
        local doubled = typed_lib.map({ 1, 2, 3 }, function(x: number): number return x * 2 end)
        t.same(doubled, { 2, 4, 6 }, "generic map")
        t.eq(typed_lib.reduce({ 1, 2, 3 }, function(acc: number, x: number): number return acc + x end, 0),
            6, "generic reduce")
        t.eq(typed_lib.describe({ kind = "circle", center = { x = 1, y = 2 }, tags = {} }), "circle@1,2",
            "table types")
        t.same(typed_lib.pair("k", 1), { key = "k", value = 1 }, "generic pair")
        local a, b = typed_lib.two()
        t.eq(a, 1, "multiple return types 1")
        t.eq(b, "two", "multiple return types 2")
        t.eq(typed_lib.varargs(1, nil, 3), 3, "typed varargs")
        t.eq(typed_lib.optional(nil), "none", "optional parameter nil")
        t.eq(typed_lib.optional("x"), "x", "optional parameter")
    end)

    t.test("plain Lua using the word type passes through", function()
        t.eq(type(1), "number", "type(x)")
        type(nil)
        local tbl = { type = 1, kind = "k" }
        t.eq(tbl.type, 1, "{type = 1}")
        tbl.type = 2
        t.eq(tbl["type"], 2, "t.type = ...")
        local function f(type) return type end
        t.eq(f("param"), "param", "parameter named type")
        do
            local type = "shadow"
            t.eq(type, "shadow", "local type = ...")
        end
        t.eq(type("s"), "string", "type() after the shadowing block")
        local obj = { n = 1 }
        function obj:inc(k) self.n = self.n + (k or 1) return self end
        obj:inc()
        obj:inc(2):inc(3)
        t.eq(obj.n, 7, "obj:method() calls")
        local s = "type X = 1; local a: number = 2"
        t.eq(#s, 31, "annotation-like text in a string is kept")
        local long = [[local function main(): integer]]
        t.eq(long, "local function main(): integer", "long string kept")
        -- local commented: number = 1
        local x = 1 -- :: string
        t.eq(x, 1, "comments")
        local cond = true
        local v = cond and { a = 1 } or { a = 2 }
        t.eq(v.a, 1, "and/or table expression")
        local label = (function() return "called" end)()
        t.eq(label, "called", "immediate call")
        t.eq(select("#", obj:inc()), 1, "method call in an argument list")
    end)

    t.test("errors keep their line numbers", function()
        local ok, err = pcall(typed_lib.fail)
        t.eq(ok, false, "raised")
        t.contains(err, "typed_lib.lua:66:", "error() line in the typed library")
        t.contains(err, "typed library failure", "message")
        ok, err = pcall(typed_lib.index_nil)
        t.eq(ok, false, "runtime error")
        t.contains(err, "typed_lib.lua:72:", "runtime error line in the typed library")
        ok, err = pcall(function() error("in test.lua") end) -- this is line 109
        t.contains(err, "test.lua:109:", "error() line in this file")
        local pid = assert(process.spawn_monitored("app:typed_child", "app:processes", "fail", { id = 1, input = 2 }))
        local e = t.wait_exit(pid).result.error
        t.contains(e, "typed_child.lua:9:", "line in a typed child process")
        t.contains(e, "typed child failed", "child message")
        pid = assert(process.spawn_monitored("app:typed_child", "app:processes", "run", { id = 1, input = 7 }))
        t.eq(t.wait_exit(pid).result.value, 49, "typed child result")
    end)

    t.test("more forms: intersections, curried and variadic function types, typed loops", function()
        t.same(typed_lib.more_forms(), { total = 16, z = 3, g = "id", c = true, read = true }, "values")
    end)

    t.test("top-level global functions defined after main", function()
        t.eq(helper_after_main(2), 4, "global function defined later in the chunk")
    end)

    return t.finish()
end

function helper_after_main(n: number): number
    return n * 2
end

return { main = main }
