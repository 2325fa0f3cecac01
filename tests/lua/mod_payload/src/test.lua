-- mod_payload: the `payload` global (spec 05 §5, 03 §7).

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
        t.errkind(p:data(), errors.INVALID, "bad", "error data")
        t.eq(tostring(p), "payload{format=golang/error}", "tostring")
    end)

    t.test("unmarshal is data", function()
        local p = payload.new({ a = { b = 1 } })
        t.same(p:unmarshal(), { a = { b = 1 } }, "unmarshal")
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
