-- mod_payload: the `payload` global (spec 05 §5, 03 §7, 10 §6).

local function main()
    t.test("format constants", function()
        t.eq(payload.format.JSON, "json/plain", "JSON")
        t.eq(payload.format.YAML, "yaml/plain", "YAML")
        t.eq(payload.format.STRING, "text/plain", "STRING")
        t.eq(payload.format.BYTES, "application/octet-stream", "BYTES")
        t.eq(payload.format.MSGPACK, "application/msgpack", "MSGPACK")
        t.eq(payload.format.LUA, "lua/any", "LUA")
        t.eq(payload.format.GOLANG, "golang/any", "GOLANG")
        t.eq(payload.format.ERROR, "golang/error", "ERROR")
        t.eq(require("payload"), payload, "require('payload')")
    end)

    t.test("new / data / get_format for Lua values", function()
        local values = { 42, 1.5, "text", true, false, { 1, 2, { x = "y" } }, { k = "v" } }
        for i, v in ipairs(values) do
            local p = payload.new(v)
            t.eq(type(p), "userdata", "payload " .. i .. " type")
            t.eq(p:get_format(), payload.format.LUA, "format of value " .. i)
            t.same(p:data(), v, "data of value " .. i)
        end
        local pn = payload.new(nil)
        t.eq(pn:data(), nil, "nil payload data")
        t.eq(pn:get_format(), payload.format.LUA, "nil payload format")
        t.eq(tostring(payload.new(1)), "payload{format=lua/any}", "tostring")
    end)

    t.test("new with an error object", function()
        local e = errors.new({ message = "bad", kind = errors.INVALID })
        local p = payload.new(e)
        t.eq(p:get_format(), payload.format.ERROR, "error format")
        -- data() is the error object (03 §10: errors travel intact); no
        -- conversion exists from golang/error (spec 10 §6.3)
        t.errkind(p:data(), errors.INVALID, "bad", "error data")
        t.errkind(p:unmarshal(), errors.INVALID, "bad", "error unmarshal")
        t.fails(errors.INTERNAL, "no transcoding path found", "error to json",
            p:transcode(payload.format.JSON))
        t.eq(tostring(p), "payload{format=golang/error}", "tostring")
    end)

    t.test("unmarshal is data", function()
        local p = payload.new({ a = { b = 1 } })
        t.same(p:unmarshal(), { a = { b = 1 } }, "unmarshal")
    end)

    t.test("the value is held by reference", function()
        local v = { a = 1 }
        local p = payload.new(v, "ignored second argument")
        t.eq(p:data(), v, "same table")
        v.b = 2
        t.eq(p:data().b, 2, "later change visible")
    end)

    t.test("transcode between lua/any and json/plain", function()
        local j, err = payload.new({ a = { 1, 2 }, b = "x" }):transcode(payload.format.JSON)
        t.eq(err, nil, "no error")
        t.eq(j:get_format(), payload.format.JSON, "format")
        t.eq(tostring(j), "payload{format=json/plain}", "tostring")
        t.same(j:data(), { a = { 1, 2 }, b = "x" }, "data decodes the JSON")
        local back = assert(j:transcode(payload.format.LUA))
        t.eq(back:get_format(), payload.format.LUA, "back to lua/any")
        t.same(back:data(), { a = { 1, 2 }, b = "x" }, "round trip")
        local s = assert(payload.new("hi"):transcode(payload.format.JSON))
        t.eq(assert(s:transcode(payload.format.STRING)):data(), "hi",
            "json -> text decodes the JSON, not the JSON text")
        t.eq(assert(payload.new(nil):transcode(payload.format.JSON)):data(), nil, "nil -> null")
        t.fails(errors.INTERNAL, "transcoded data is not a valid Lua value", "unmarshal of null",
            assert(payload.new(nil):transcode(payload.format.JSON)):unmarshal())
        -- an impossible conversion is an error, never a silent success
        local bad = { 1, 2, x = 3 }
        local e = t.fails(errors.INTERNAL, "cannot encode mixed-key table", "mixed keys",
            payload.new(bad):transcode(payload.format.JSON))
        t.eq(e:retryable(), false, "not retryable")
        local cyc = {}
        cyc.self = cyc
        t.fails(errors.INTERNAL, "recursively nested", "cycle",
            payload.new(cyc):transcode(payload.format.JSON))
    end)

    t.test("transcode to text/plain and application/octet-stream", function()
        local cases = { { "s", "s" }, { 42, "42" }, { 2.5, "2.5" }, { 0.1, "0.1" },
            { true, "true" }, { false, "false" }, { nil, "" } }
        for i, c in ipairs(cases) do
            for _, fmt in ipairs({ payload.format.STRING, payload.format.BYTES }) do
                local p = assert(payload.new(c[1]):transcode(fmt))
                t.eq(p:get_format(), fmt, "format " .. i)
                t.eq(p:data(), c[2], fmt .. " of case " .. i)
            end
        end
        t.fails(errors.INTERNAL, "cannot convert", "a table to text",
            payload.new({ 1 }):transcode(payload.format.STRING))
        local text = assert(payload.new("x"):transcode(payload.format.STRING))
        t.eq(assert(text:transcode(payload.format.LUA)):data(), "x", "text -> lua")
        t.eq(assert(text:transcode(payload.format.BYTES)):data(), "x", "text -> bytes")
    end)

    t.test("same format, unknown and unsupported formats", function()
        local p = payload.new({ 1 })
        local q, err = p:transcode(payload.format.LUA)
        t.eq(err, nil, "same format: no error")
        t.same(q:data(), { 1 }, "equivalent payload")
        for _, fmt in ipairs({ "nope/x", payload.format.YAML, payload.format.MSGPACK,
            payload.format.GOLANG, payload.format.ERROR }) do
            t.fails(errors.INTERNAL, "no transcoding path found", fmt, p:transcode(fmt))
        end
        t.raises(nil, "non-string format", function() return p:transcode(42 == 42 and {} or nil) end)
    end)

    t.test("message payloads", function()
        local me = process.pid()
        assert(process.send(me, "p1", { n = 1 }))
        local p = t.expect_msg("p1"):payload()
        t.eq(p:get_format(), payload.format.LUA, "message payload format")
        t.same(p:data(), { n = 1 }, "message payload data")
        t.eq(tostring(p), "payload{format=lua/any}", "message payload tostring")
        assert(process.send(me, "p2", errors.new("err payload")))
        p = t.expect_msg("p2"):payload()
        t.eq(p:get_format(), payload.format.ERROR, "error payload format")
        t.errkind(p:data(), nil, "err payload", "error payload data")
        assert(process.send(me, "p3", "a", "b"))
        local list = t.expect_msg("p3"):payload()
        t.eq(#list, 2, "list of payloads")
        for i, want in ipairs({ "a", "b" }) do
            t.eq(list[i]:get_format(), payload.format.LUA, "format " .. i)
            t.eq(list[i]:data(), want, "data " .. i)
        end
    end)

    t.test("a payload object sent to a process arrives as nil", function()
        assert(process.send(process.pid(), "pp", payload.new("inner"), 1))
        local list = t.expect_msg("pp"):payload()
        t.eq(list[1]:data(), nil, "payload object -> nil")
        t.eq(list[2]:data(), 1, "other value intact")
    end)

    return t.finish()
end

return { main = main }
