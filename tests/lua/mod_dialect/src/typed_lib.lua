-- A library written in type-annotated Lua (Luau-style annotations).
export type Point = {x: number, y: number}
export type Shape = {
    kind: "circle" | "square",
    center: Point,
    tags: {string},
    meta: {[string]: any}?,
}
type Callback<T> = (value: T) -> ()
type Reducer<T, U> = (acc: U, item: T) -> U
type Pair<K, V> = {key: K, value: V}
type Maybe = string?
type Num = number | string
type Fn = (a: number, b: number) -> number
type Nested = {
    outer: {
        inner: {
            leaf: boolean?,
        },
    },
}

local M = {}

function M.add(a: number, b: number): number
    return a + b
end

function M.map<T, U>(xs: {T}, f: (T) -> U): {U}
    local out: {U} = {}
    for i, x in ipairs(xs) do
        out[i] = f(x)
    end
    return out
end

function M.reduce<T, U>(xs: {T}, f: Reducer<T, U>, init: U): U
    local acc: U = init
    for _, x in ipairs(xs) do acc = f(acc, x) end
    return acc
end

function M.describe(s: Shape): string
    return s.kind .. "@" .. tostring(s.center.x) .. "," .. tostring(s.center.y)
end

function M.pair<K, V>(k: K, v: V): Pair<K, V>
    return { key = k, value = v }
end

function M.two(): (number, string)
    return 1, "two"
end

function M.varargs(...: any): number
    return select("#", ...)
end

function M.optional(x: string?): string
    if x == nil then return "none" end
    return x
end

-- the line number of this error is checked by the test (line 66)
function M.fail(): never
    error("typed library failure")
end

-- a runtime (not error()) failure at a known line (line 72)
function M.index_nil(): any
    local n: {x: number}? = nil
    return (n :: any).x
end

type Both = Point & {z: number}
type Curried = (number) -> (string) -> boolean
type Variadic = (...number) -> ()
type Rec = {f: (self: Rec, n: number) -> Rec}
type Indexed = {read: boolean, [number]: string}

function M.more_forms(): {[string]: any}
    local total = 0
    for i: number = 1, 3 do total = total + i end
    for k: string, v: number in pairs({ a = 10 }) do total = total + v end
    local b: Both = { x = 1, y = 2, z = 3 }
    local g = function<T>(x: T): T return x end
    local c: Curried = function(n: number) return function(s: string): boolean return s ~= "" end end
    local tbl: Indexed = { read = true }
    local v: Variadic = function(...: number) end
    v(1, 2)
    return { total = total, z = b.z, g = g("id"), c = c(1)("x"), read = tbl.read }
end

return M
