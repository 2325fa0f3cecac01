-- mod_json: the `json` module (spec 05 §8).

local function main()
    t.test("module availability", function()
        t.eq(require("json"), json, "require('json')")
        t.eq(type(json.encode), "function", "encode")
        t.eq(type(json.decode), "function", "decode")
    end)

    t.test("encode: scalars", function()
        t.eq(json.encode(nil), "null", "nil")
        t.eq(json.encode(true), "true", "true")
        t.eq(json.encode(false), "false", "false")
        t.eq(json.encode(42), "42", "integer")
        t.eq(json.encode(-7), "-7", "negative")
        t.eq(json.encode(1.5), "1.5", "float")
        t.eq(json.encode(9007199254740993), "9007199254740993", "large integer")
        t.eq(json.encode(0 / 0), "null", "NaN")
        t.eq(json.encode(math.huge), "null", "Inf")
        t.eq(json.encode(-math.huge), "null", "-Inf")
        t.eq(json.encode("text"), '"text"', "string")
        t.eq(json.encode(""), '""', "empty string")
        t.eq(json.encode('a"b\\c\nd\te'), '"a\\"b\\\\c\\nd\\te"', "escapes")
        t.eq(json.encode("\1"), '"\\u0001"', "control character")
        t.eq(json.encode("é"), '"é"', "UTF-8 kept")
    end)

    t.test("encode: tables", function()
        t.eq(json.encode({}), "[]", "empty table -> []")
        t.eq(json.encode({ 1, 2, 3 }), "[1,2,3]", "array")
        t.eq(json.encode({ "a", { true, false } }), '["a",[true,false]]', "nested array")
        t.eq(json.encode({ a = 1 }), '{"a":1}', "object")
        t.eq(json.encode({ a = { b = { c = "d" } } }), '{"a":{"b":{"c":"d"}}}', "nested object")
        t.eq(json.encode({ list = {} }), '{"list":[]}', "empty table inside")
        local obj = json.decode(json.encode({ x = 1, y = "two", z = { 3 } }))
        t.same(obj, { x = 1, y = "two", z = { 3 } }, "multi-key object round trip")
    end)

    t.test("encode: errors", function()
        t.fails(errors.INTERNAL, nil, "mixed keys", json.encode({ 1, 2, x = 3 }))
        t.fails(errors.INTERNAL, nil, "sparse array", json.encode({ [1] = 1, [3] = 3 }))
        t.fails(errors.INTERNAL, nil, "array not starting at 1", json.encode({ [2] = "x" }))
        local cyc = {}
        cyc.self = cyc
        t.fails(errors.INTERNAL, nil, "cycle", json.encode(cyc))
        local deep = {}
        local cur = deep
        for _ = 1, 200 do
            cur[1] = {}
            cur = cur[1]
        end
        t.fails(errors.INTERNAL, nil, "depth > 128", json.encode(deep))
        local ok_depth = {}
        cur = ok_depth
        for _ = 1, 100 do
            cur[1] = {}
            cur = cur[1]
        end
        t.check(json.encode(ok_depth), "depth 100 is fine")
    end)

    t.test("decode: values", function()
        t.eq(json.decode("null"), nil, "null")
        t.eq(json.decode("true"), true, "true")
        t.eq(json.decode("false"), false, "false")
        t.eq(json.decode("42"), 42, "integer")
        t.eq(json.decode("-1.25"), -1.25, "float")
        t.eq(json.decode("1.5e2"), 150, "exponent")
        t.eq(json.decode('"x\\u00e9\\n\\"q\\""'), 'xé\n"q"', "string escapes")
        t.eq(json.decode('"\\ud83d\\ude00"'), "😀", "surrogate pair")
        t.same(json.decode("[1,2,3]"), { 1, 2, 3 }, "array -> 1-based")
        t.same(json.decode("[]"), {}, "empty array")
        t.same(json.decode("{}"), {}, "empty object")
        t.same(json.decode(' { "a" : [ 1 , { "b" : "c" } ] , "d" : true } '),
            { a = { 1, { b = "c" } }, d = true }, "nested with whitespace")
        local withnull = json.decode('{"a":null,"b":1}')
        t.eq(withnull.a, nil, "null member")
        t.eq(withnull.b, 1, "other member")
        local arr = json.decode("[1,null,3]")
        t.eq(arr[1], 1, "arr[1]")
        t.eq(arr[2], nil, "arr[2] null")
        t.eq(arr[3], 3, "arr[3]")
    end)

    t.test("decode: errors", function()
        t.fails(errors.INVALID, nil, "non-string", json.decode(42))
        t.fails(errors.INVALID, nil, "table", json.decode({}))
        t.fails(errors.INVALID, nil, "nil", json.decode(nil))
        t.fails(errors.INVALID, nil, "empty string", json.decode(""))
        t.fails(errors.INTERNAL, nil, "unterminated object", json.decode("{"))
        t.fails(errors.INTERNAL, nil, "trailing comma", json.decode("[1,]"))
        t.fails(errors.INTERNAL, nil, "bad literal", json.decode("nul"))
        t.fails(errors.INTERNAL, nil, "trailing garbage", json.decode('{"a":1} x'))
        t.fails(errors.INTERNAL, nil, "single quotes", json.decode("{'a':1}"))
        t.fails(errors.INTERNAL, nil, "unquoted key", json.decode("{a:1}"))
        t.fails(errors.INTERNAL, nil, "whitespace only", json.decode("   "))
    end)

    t.test("round trips", function()
        local v = { name = "wippy", tags = { "a", "b" }, n = 3, ok = true,
                    nested = { list = { { id = 1 }, { id = 2 } } } }
        t.same(json.decode(json.encode(v)), v, "round trip")
        local s = '{"k":[1,2,{"z":"y"}]}'
        t.eq(json.encode(json.decode(s)), s, "decode then encode")
    end)

    return t.finish()
end

return { main = main }
