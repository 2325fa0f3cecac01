-- mod_uuid: the `uuid` module (spec 10 §4): every function, every accepted
-- input form and style, every error row (generator failures: the unit test
-- unit_test_uuid, which replaces the random source).
local test, check, eq, same = t.test, t.check, t.eq, t.same

local CANON = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"
local DNS = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
local URL = "6ba7b811-9dad-11d1-80b4-00c04fd430c8"

-- s is a generated or formatted UUID: canonical, lowercase, of `version`.
local function canonical(s, version, what)
    eq(type(s), "string", what .. ": type")
    check(s:match(CANON), what .. ": not canonical: " .. tostring(s))
    eq(s, s:lower(), what .. ": lowercase")
    if version then eq(uuid.version(s), version, what .. ": version") end
    eq(uuid.variant(s), "RFC4122", what .. ": variant")
end

-- The call returned nil and an Invalid, non-retryable error whose message
-- is exactly msg.
local function invalid(msg, what, v, err)
    t.fails(errors.INVALID, nil, what, v, err)
    eq(err:message(), msg, what .. ": message")
    eq(err:retryable(), false, what .. ": retryable")
    check(errors.is(err, errors.INVALID), what .. ": errors.is")
end

-- Strictly increasing list of v7 UUIDs, by their first 18 characters (the
-- time, version and sequence): the random tail must not be what orders them.
local function increasing(list, what)
    for i = 2, #list do
        if not (list[i - 1]:sub(1, 18) < list[i]:sub(1, 18)) then
            t.fail(string.format("%s: #%d %s is not after %s", what, i, list[i], list[i - 1]), 2)
        end
    end
end

local function main()
    t.test("module availability", function()
        eq(require("uuid"), uuid, "require('uuid')")
        for _, name in ipairs({ "v1", "v3", "v4", "v5", "v7", "validate", "version", "variant",
            "parse", "format" }) do
            eq(type(uuid[name]), "function", name)
        end
        eq(uuid.NAMESPACE_DNS, nil, "no namespace constants")
    end)

    test("v4: random, canonical, distinct", function()
        local seen = {}
        for i = 1, 2000 do
            local u = uuid.v4()
            canonical(u, 4, "v4")
            check(not seen[u], "v4 repeated: " .. u)
            seen[u] = true
        end
        eq(select("#", uuid.v4()), 1, "one result")
    end)

    test("v7: canonical, strictly increasing, timestamp", function()
        local list = {}
        for i = 1, 20000 do list[i] = uuid.v7() end
        for i = 1, #list, 97 do canonical(list[i], 7, "v7") end
        canonical(list[#list], 7, "v7 last")
        increasing(list, "v7")
        local p = uuid.parse(list[#list])
        eq(p.version, 7, "parse version")
        eq(p.variant, "RFC4122", "parse variant")
        eq(math.type(p.timestamp), "integer", "timestamp is an integer")
        check(math.abs(p.timestamp - time.now():unix()) <= 60,
            "timestamp " .. p.timestamp .. " is not now (" .. time.now():unix() .. ")")
        eq(p.node, nil, "no node for v7")
    end)

    test("v7 and v1 from several processes at once: no duplicates", function()
        local me, N, KIDS = process.pid(), 20000, 4
        local pids = {}
        for i = 1, KIDS do
            pids[i] = check(process.spawn("app:gen", "app:processes", me, N))
        end
        for i = 1, KIDS do process.send(pids[i], "go", true) end
        -- the parent generates meanwhile too
        local mine = {}
        for i = 1, N do mine[i] = uuid.v7() end
        increasing(mine, "parent's v7")
        local all7, all1 = { table.unpack(mine) }, {}
        for _ = 1, KIDS do
            local got = t.expect_data("uuids", "30s")
            eq(#got.v7, N, "v7 count")
            eq(#got.v1, N, "v1 count")
            increasing(got.v7, "child's v7")
            for _, u in ipairs(got.v7) do all7[#all7 + 1] = u end
            for _, u in ipairs(got.v1) do all1[#all1 + 1] = u end
        end
        for name, all in pairs({ v7 = all7, v1 = all1 }) do
            local seen = {}
            for _, u in ipairs(all) do
                check(not seen[u], name .. " repeated across processes: " .. u)
                seen[u] = true
            end
        end
        eq(#all7, (KIDS + 1) * N, "all v7")
        -- sorted, no two share time and sequence: one total order, no ties
        table.sort(all7)
        increasing(all7, "merged v7")
        -- one node id and clock sequence for the whole runtime
        local node = uuid.parse(all1[1]).node
        for i = 1, #all1, 101 do eq(uuid.parse(all1[i]).node, node, "v1 node") end
        eq(all1[1]:sub(20, 23), all1[#all1]:sub(20, 23), "v1 clock sequence")
    end)

    test("v1: canonical, timestamp, node", function()
        local seen, first = {}, nil
        for i = 1, 2000 do
            local u = uuid.v1()
            if i % 50 == 1 then canonical(u, 1, "v1") end
            check(not seen[u], "v1 repeated: " .. u)
            seen[u] = true
            first = first or u
        end
        local p = uuid.parse(first)
        eq(p.version, 1, "version")
        eq(p.variant, "RFC4122", "variant")
        eq(math.type(p.timestamp), "integer", "timestamp is an integer")
        check(math.abs(p.timestamp - time.now():unix()) <= 60, "timestamp is now")
        eq(type(p.node), "string", "node")
        check(p.node:match("^[0-9a-f]+$") and #p.node == 12, "node is 12 lowercase hex: " .. p.node)
        eq(tonumber(p.node:sub(1, 2), 16) & 1, 1, "multicast bit set (random node id)")
        eq(p.node, first:sub(25), "node is the last group")
    end)

    test("v3 and v5: known vectors", function()
        eq(uuid.v5(DNS, "www.example.com"), "2ed6657d-e927-568b-95e1-2665a8aea6a2", "v5 dns")
        eq(uuid.v3(DNS, "www.example.com"), "5df41881-3aed-3515-88a7-2f4a814cf09e", "v3 dns")
        eq(uuid.v5(URL, "https://wippy.ai/"), "f7bffb76-6205-56ce-addb-6516c56ecc9d", "v5 url")
        eq(uuid.v3(URL, "https://wippy.ai/"), "5cb4d4b8-4f68-3145-962a-2993225e880a", "v3 url")
        eq(uuid.v5(DNS, ""), "4ebd0208-8328-5d69-8c44-ec50939c0967", "v5 empty name")
        eq(uuid.v3(DNS, ""), "c87ee674-4ddc-3efe-a74e-dfe25da5d7b3", "v3 empty name")
        eq(uuid.v5(DNS, "a\0b"), "0a63f66b-e02f-5d2d-9fd4-aad819cf5352", "v5 name with NUL")
        eq(uuid.v3(DNS, "a\0b"), "002a0ada-f547-375a-bab5-896a11d1927e", "v3 name with NUL")
        -- deterministic, and the namespace may be in any accepted form
        local want5 = "2ed6657d-e927-568b-95e1-2665a8aea6a2"
        for _, ns in ipairs({ DNS:upper(), "urn:uuid:" .. DNS, "URN:UUID:" .. DNS:upper(),
            "{" .. DNS .. "}", (DNS:gsub("-", "")) }) do
            eq(uuid.v5(ns, "www.example.com"), want5, "v5 namespace " .. ns)
            eq(uuid.v3(ns, "www.example.com"), "5df41881-3aed-3515-88a7-2f4a814cf09e",
                "v3 namespace " .. ns)
        end
        canonical(uuid.v5(DNS, "x"), 5, "v5")
        canonical(uuid.v3(DNS, "x"), 3, "v3")
        local long = string.rep("0123456789", 100000)
        eq(uuid.v5(DNS, long), uuid.v5(DNS, long), "1 MB name, deterministic")
        canonical(uuid.v5(DNS, long), 5, "v5 long")
    end)

    test("v3 and v5: errors", function()
        local MSG = "namespace and name must be strings"
        for _, f in ipairs({ "v3", "v5" }) do
            invalid(MSG, f .. "()", uuid[f]())
            invalid(MSG, f .. "(ns)", uuid[f](DNS))
            invalid(MSG, f .. "(ns, nil)", uuid[f](DNS, nil))
            invalid(MSG, f .. "(ns, 42)", uuid[f](DNS, 42))
            invalid(MSG, f .. "(ns, {})", uuid[f](DNS, {}))
            invalid(MSG, f .. "(nil, name)", uuid[f](nil, "x"))
            invalid(MSG, f .. "(table, name)", uuid[f]({}, "x"))
            invalid(MSG, f .. "(true, name)", uuid[f](true, "x"))
            invalid("invalid namespace UUID", f .. " bad namespace", uuid[f]("dns", "x"))
            invalid("invalid namespace UUID", f .. " empty namespace", uuid[f]("", "x"))
            invalid("invalid namespace UUID", f .. " namespace bad hex",
                uuid[f]("6ba7b810-9dad-11d1-80b4-00c04fd430cg", "x"))
        end
    end)

    local FORMS = {
        DNS, DNS:upper(), "6Ba7B810-9dAd-11D1-80b4-00C04fD430c8",
        "urn:uuid:" .. DNS, "URN:UUID:" .. DNS, "Urn:Uuid:" .. DNS:upper(),
        "{" .. DNS .. "}", "{" .. DNS:upper() .. "}",
        "6ba7b8109dad11d180b400c04fd430c8", "6BA7B8109DAD11D180B400C04FD430C8",
    }
    local BAD = {
        "", "x", "6ba7b810-9dad-11d1-80b4-00c04fd430c", "6ba7b810-9dad-11d1-80b4-00c04fd430c8a",
        "6ba7b810-9dad-11d1-80b4-00c04fd430cg", "6ba7b810x9dad-11d1-80b4-00c04fd430c8",
        "6ba7b8109-dad-11d1-80b4-00c04fd430c8", "6ba7b810-9dad-11d1-80b400c04fd430c8-",
        "6ba7b810-9dad-11d1-80b4-00c04fd430c\0", " 6ba7b810-9dad-11d1-80b4-00c04fd430c8",
        "urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c", "urn:uuix:" .. DNS, "uuid:" .. DNS,
        "{" .. DNS, "{" .. DNS .. "}}", "6ba7b8109dad11d180b400c04fd430c", "6ba7b8109dad11d180b400c04fd430cz",
        "6ba7b810-9dad11d1-80b4-00c04fd430c8", "g" .. string.rep("0", 31),
    }

    test("validate", function()
        for _, s in ipairs(FORMS) do eq(uuid.validate(s), true, "valid: " .. s) end
        eq(uuid.validate("00000000-0000-0000-0000-000000000000"), true, "nil UUID")
        eq(uuid.validate("ffffffff-ffff-ffff-ffff-ffffffffffff"), true, "max UUID")
        -- Wippy's parser does not check the two outer characters of the 38 form
        eq(uuid.validate("[" .. DNS .. "]"), true, "38 characters, other brackets")
        for _, s in ipairs(BAD) do eq(uuid.validate(s), false, "invalid: " .. s) end
        for _, v in ipairs({ 42, 1.5, true, false, {}, print }) do
            eq(uuid.validate(v), false, "non-string " .. type(v))
        end
        eq(uuid.validate(nil), false, "nil")
        eq(uuid.validate(), false, "no argument")
        eq(select("#", uuid.validate(DNS)), 1, "one result")
        eq(uuid.validate(errors.new(DNS)), false, "an error object is not a string")
    end)

    test("version", function()
        for _, s in ipairs(FORMS) do eq(uuid.version(s), 1, "version of " .. s) end
        eq(uuid.version("00000000-0000-0000-0000-000000000000"), 0, "nil UUID")
        eq(uuid.version("ffffffff-ffff-ffff-ffff-ffffffffffff"), 15, "max UUID")
        eq(uuid.version("00000000-0000-b000-0000-000000000000"), 11, "unknown version 11")
        eq(math.type(uuid.version(DNS)), "integer", "integer")
        eq(uuid.version(uuid.v4()), 4, "v4")
        eq(uuid.version(uuid.v7()), 7, "v7")
        eq(uuid.version(uuid.v5(DNS, "x")), 5, "v5")
        eq(uuid.version(uuid.v3(DNS, "x")), 3, "v3")
        eq(uuid.version(uuid.v1()), 1, "v1")
    end)

    test("variant", function()
        local function v(b8) return "00000000-0000-4000-" .. b8 .. "000-000000000000" end
        eq(uuid.variant(v("0")), "Reserved", "0xxx (NCS range)")
        eq(uuid.variant(v("7")), "Reserved", "0111")
        eq(uuid.variant(v("8")), "RFC4122", "1000")
        eq(uuid.variant(v("b")), "RFC4122", "1011")
        eq(uuid.variant(v("c")), "Microsoft", "1100")
        eq(uuid.variant(v("d")), "Microsoft", "1101")
        eq(uuid.variant(v("e")), "Future", "1110")
        eq(uuid.variant(v("F")), "Future", "1111")
        eq(uuid.variant("00000000-0000-0000-0000-000000000000"), "Reserved", "nil UUID")
        for _, s in ipairs(FORMS) do eq(uuid.variant(s), "RFC4122", "variant of " .. s) end
    end)

    test("parse", function()
        -- DNS namespace: itself a v1 UUID (1998)
        for _, s in ipairs(FORMS) do
            same(uuid.parse(s), { version = 1, variant = "RFC4122", timestamp = 886630433,
                node = "00c04fd430c8" }, "parse " .. s)
        end
        -- RFC 9562 appendix A examples
        same(uuid.parse("C232AB00-9414-11EC-B3C8-9F6BDECED846"),
            { version = 1, variant = "RFC4122", timestamp = 1645557742, node = "9f6bdeced846" },
            "RFC 9562 v1")
        same(uuid.parse("017F22E2-79B0-7CC3-98C4-DC0C0C07398F"),
            { version = 7, variant = "RFC4122", timestamp = 1645557742 }, "RFC 9562 v7")
        same(uuid.parse("919108f7-52d1-4320-9bac-f847db4148a8"),
            { version = 4, variant = "RFC4122" }, "v4: no timestamp, no node")
        same(uuid.parse("2ed6657d-e927-568b-95e1-2665a8aea6a2"),
            { version = 5, variant = "RFC4122" }, "v5")
        same(uuid.parse("00000000-0000-0000-0000-000000000000"),
            { version = 0, variant = "Reserved" }, "nil UUID")
        -- a v1 time before 1970 (100 ns after the Gregorian epoch): floored seconds
        same(uuid.parse("00000001-0000-1000-8000-000000000000"),
            { version = 1, variant = "RFC4122", timestamp = -12219292800, node = "000000000000" },
            "v1 at 1582")
        same(uuid.parse("ffffffff-ffff-7fff-bfff-ffffffffffff"),
            { version = 7, variant = "RFC4122", timestamp = 281474976710 }, "largest v7 time")
        local v7 = uuid.v7()
        eq(uuid.parse(v7).timestamp, uuid.parse(uuid.format(v7, "urn")).timestamp, "urn form")
    end)

    test("format", function()
        for _, s in ipairs(FORMS) do
            eq(uuid.format(s), DNS, "default style of " .. s)
            eq(uuid.format(s, "standard"), DNS, "standard of " .. s)
            eq(uuid.format(s, "simple"), "6ba7b8109dad11d180b400c04fd430c8", "simple of " .. s)
            eq(uuid.format(s, "urn"), "urn:uuid:" .. DNS, "urn of " .. s)
        end
        -- a style that is not a string means "standard"
        for _, style in ipairs({ 42, true, {}, print }) do
            eq(uuid.format(DNS:upper(), style), DNS, "style " .. type(style))
        end
        eq(uuid.format(DNS:upper(), nil), DNS, "style nil")
        invalid("unsupported format", "style upper", uuid.format(DNS, "upper"))
        invalid("unsupported format", "style STANDARD", uuid.format(DNS, "STANDARD"))
        invalid("unsupported format", "style empty", uuid.format(DNS, ""))
        invalid("unsupported format", "style with NUL", uuid.format(DNS, "urn\0"))
        -- the input is checked before the style
        invalid("invalid UUID format", "bad input, bad style", uuid.format("nope", "upper"))
        -- round trips
        local u = uuid.v4()
        eq(uuid.format(uuid.format(u, "simple")), u, "simple round trip")
        eq(uuid.format(uuid.format(u, "urn")), u, "urn round trip")
    end)

    test("version/variant/parse/format: errors", function()
        for _, f in ipairs({ "version", "variant", "parse", "format" }) do
            invalid("input must be a string", f .. "()", uuid[f]())
            invalid("input must be a string", f .. "(nil)", uuid[f](nil))
            invalid("input must be a string", f .. "(42)", uuid[f](42))
            invalid("input must be a string", f .. "({})", uuid[f]({}))
            invalid("input must be a string", f .. "(true)", uuid[f](true))
            invalid("input must be a string", f .. "(error)", uuid[f](errors.new(DNS)))
            for _, s in ipairs(BAD) do
                invalid("invalid UUID format", f .. "(" .. string.format("%q", s) .. ")", uuid[f](s))
            end
        end
    end)

    return t.finish()
end

return { main = main }
