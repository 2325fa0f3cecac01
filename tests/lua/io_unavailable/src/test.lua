-- ---- test helpers: the shared library app:testing (tests/lua/lib/testing.lua),
-- imported as `t`; local aliases keep the call sites short
local test, check, eq, contains = t.test, t.check, t.eq, t.contains
local recv, expect_msg, wait_exit, finish = t.recv, t.expect_msg, t.wait_exit, t.finish
-- ----------------------------------------------------------------------
local function main()
    local pid = assert(process.spawn("app:child", "app:processes", process.pid()))
    local report = expect_msg("report"):payload():data()
    for _, name in ipairs({ "print", "write", "eprint", "readline", "read", "flush" }) do
        test("io." .. name .. " on a process host", function()
            local r = report[name]
            eq(r.raised, false, "raised (" .. tostring(r.message) .. ")")
            eq(r.r, nil, "first result")
            eq(r.kind, errors.UNAVAILABLE, "kind")
        end)
    end
    test("io.args on a process host", function()
        eq(report.args_type, "table", "type")
        eq(report.args_len, 0, "length")
    end)
    test("io on the terminal host", function()
        eq(io.write(""), true, "io.write")
        eq(io.print("io works"), true, "io.print")
        eq(io.flush(), true, "io.flush")
        eq(type(io.args()), "table", "io.args")
        -- stdin is /dev/null: EOF gives nil, err
        local line, err = io.readline()
        eq(line, nil, "readline at EOF")
        check(err ~= nil, "readline at EOF returns an error")
    end)
    return finish()
end
return { main = main }
