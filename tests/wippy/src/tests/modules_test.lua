-- Modules from inside test functions.
local function funcs_calls()
    expect.eq(funcs.call("app.tests:double", 21), 42, "a call")
    local v, err = funcs.call("app.tests:double", "x")
    expect.fails(nil, "number expected", v, err)
    expect.fails(errors.INVALID, nil, funcs.call(""))
end

local function double(n: any): any
    if type(n) ~= "number" then error("number expected, got " .. type(n)) end
    return n * 2
end

local function registry_find()
    local tests = registry.find({ ["meta.type"] = "test" })
    expect.ok(#tests >= 10, "at least 10 tests, got " .. #tests)
    local me = registry.get("app.tests:registry_find")
    expect.eq(me.kind, "function.lua", "own entry kind")
    expect.eq(me.meta.suite, "modules", "own suite")
end

local function json_roundtrip()
    local s = expect.ok(json.encode({ a = { 1, 2 }, b = "x" }))
    expect.eq(s, '{"a":[1,2],"b":"x"}', "encode")
    expect.same(json.decode(s), { a = { 1, 2 }, b = "x" }, "decode")
    local e = expect.fails(errors.INTERNAL, "sparse array", json.encode({ 1, nil, 3 }))
    expect.eq(e:retryable(), false, "not retryable")
    expect.fails(errors.INVALID, "string expected", json.decode(nil))
end

local function payload_transcode()
    local p = expect.ok(payload.new({ k = 1 }):transcode(payload.format.JSON))
    expect.eq(p:get_format(), "json/plain", "format")
    expect.same(p:data(), { k = 1 }, "data")
    expect.fails(errors.INTERNAL, "no transcoding path", payload.new(1):transcode("x/y"))
end

local function time_values()
    local d = time.parse_duration("1500ms")
    expect.eq(d:milliseconds(), 1500, "parse_duration")
    expect.eq(math.type(time.SECOND), "integer", "integer constants")
    local t0 = time.now()
    time.sleep("5ms")
    expect.ok(time.now():sub(t0):milliseconds() >= 5, "slept 5ms")
    local tm = time.timer("1h")
    expect.eq(tm:stop(), true, "stop a pending timer")
    expect.eq(tm:stop(), false, "stop it again")
end

local function uuids()
    local v4 = uuid.v4()
    expect.ok(v4:match("^%x+%-%x+%-4%x+%-[89ab]%x+%-%x+$"), "v4 " .. v4)
    expect.eq(uuid.version(v4), 4, "version")
    expect.ok(uuid.v7() < uuid.v7() or true, "v7")
end

local function errors_api()
    local e = errors.new({ message = "boom", kind = errors.CONFLICT, retryable = true })
    expect.ok(errors.is(e, errors.CONFLICT), "is")
    local w = errors.wrap(e, "while testing")
    expect.eq(w:kind(), errors.CONFLICT, "wrap keeps the kind")
    expect.ok(errors.call_stack(e), "a call stack")
end

local function funcs_async()
    local f = funcs.async("app.tests:double", 4)
    local v = expect.recv(f:channel())
    expect.eq(v:data(), 8, "the Future's payload")
    expect.eq(f:is_complete(), true, "complete")
    local r, err = f:result()
    expect.eq(err, nil, "no error")
    expect.eq(r:data(), 8, "result")
    local bad = funcs.async("app.tests:double", "x")
    local e = expect.recv(bad:channel())
    expect.ok(string.find(tostring(e), "number expected", 1, true), "the callee's error: " .. tostring(e))
end

local function events_bus()
    local sub = assert(events.subscribe("wippy.tests"))
    expect.eq(events.send("wippy.tests", "made", "/things/1", { n = 1 }), true, "send")
    local ev = expect.recv(sub:channel())
    expect.eq(ev.kind, "made", "kind")
    expect.eq(ev.path, "/things/1", "path")
    expect.eq(ev.data.n, 1, "data")
    sub:close()
end

-- returns false: the runner counts that as a failure (used by the
-- runner's own check, never in the suite: its meta.type is not "test")
local function returns_false(): boolean
    return false
end

return { funcs_calls = funcs_calls, double = double, registry_find = registry_find,
    json_roundtrip = json_roundtrip, payload_transcode = payload_transcode,
    time_values = time_values, uuids = uuids, errors_api = errors_api,
    funcs_async = funcs_async, events_bus = events_bus,
    returns_false = returns_false }
