-- mod_io: the terminal `io` module (spec 05 §7), run as the named command
-- `iotest alpha beta` (file `command`) with stdin from the file `stdin`;
-- expect_stdout / expect_stderr check what was written.

local function main(...)
    local argv = table.pack(...)

    t.test("named command arguments reach main and io.args()", function()
        t.eq(argv.n, 2, "argument count")
        t.eq(argv[1], "alpha", "arg 1")
        t.eq(argv[2], "beta", "arg 2")
        local a = io.args()
        t.eq(type(a), "table", "io.args() is a table")
        t.same(a, { "alpha", "beta" }, "io.args()")
        t.eq(require("io"), io, "require('io')")
    end)

    t.test("write: no separator, no newline; returns true", function()
        local ok, err = io.write("io-write:", "a", 1, 2.5)
        t.eq(ok, true, "write result")
        t.eq(err, nil, "write error")
        t.eq(io.write("|"), true, "second write")
        t.eq(io.write("\n"), true, "newline")
        t.eq(io.write(), true, "write of nothing")
    end)

    t.test("print: TAB-separated, newline; accepts error objects", function()
        t.eq(io.print("io-print", "b", 3), true, "print result")
        t.eq(io.print(errors.new("io-err-obj-text")), true, "print of an error object")
        t.eq(io.print("io-tostring", true, nil), true, "print of other values")
        t.eq(io.print(), true, "empty print")
        io.print("io-after-empty-print")
    end)

    t.test("eprint writes to stderr", function()
        t.eq(io.eprint("io-eprint", "c", 4), true, "eprint result")
    end)

    t.test("flush", function()
        t.eq(io.flush(), true, "flush result")
    end)

    t.test("readline: lines without their line ends, then nil, err at EOF", function()
        t.eq(io.readline(), "first line", "line 1")
        t.eq(io.readline(), "second line", "CRLF stripped")
        t.eq(io.readline(), "", "empty line")
        t.eq(io.readline(), "last-no-newline", "partial last line at EOF")
        local v, err = io.readline()
        t.eq(v, nil, "nil at EOF")
        t.check(err ~= nil, "an error at EOF")
        v, err = io.readline()
        t.eq(v, nil, "still EOF")
        v, err = io.read(10)
        t.eq(v, nil, "io.read at EOF")
        t.check(err ~= nil, "io.read error at EOF")
    end)

    t.test("io outside a terminal host: Unavailable, args empty", function()
        local pid = assert(process.spawn_monitored("app:elsewhere", "app:processes"))
        local r = t.wait_exit(pid).result
        t.eq(r.error, nil, "the process does not fail")
        local v = r.value
        for _, f in ipairs({ "write", "print", "eprint", "readline", "flush" }) do
            t.eq(v[f .. "_v"], nil, f .. " value")
            t.errkind(v[f .. "_e"], errors.UNAVAILABLE, "no terminal context", f .. " error")
        end
        t.same(v.args, {}, "io.args() outside a terminal")
    end)

    return t.finish()
end

return { main = main }
