-- ---- test helpers: the shared library app:testing (tests/lua/lib/testing.lua),
-- imported as `t`, and the memory checks (lib/memory_checks.lua) as `m`
local test, expect_msg, finish = t.test, t.expect_msg, t.finish
local start, run, ended, fits = m.start, m.run, m.ended, m.fits
-- ----------------------------------------------------------------------
local LIMIT = "runtime limit 16M" -- flags: --memory-limit 16M

local function main()
    test("a process growing past the runtime's limit is ended", function()
        ended(run("app:hog", "grow", 32 * 1024), LIMIT)
    end)
    test("what it held is free again", function()
        fits(run("app:hog", "grow", 9 * 1024), 9 * 1024)
    end)
    test("the sum counts: the second of two 9 MB processes is ended", function()
        local holder = start("app:hog", "hold", 9 * 1024)
        t.eq(expect_msg("held", "30s"):payload():data(), 9 * 1024, "held")
        ended(run("app:hog", "grow", 9 * 1024), LIMIT)
        process.send(holder, "release")
        fits(t.wait_exit(holder, "30s"), 9 * 1024)
    end)
    test("and once the first ended, the second fits", function()
        fits(run("app:hog", "grow", 9 * 1024), 9 * 1024)
    end)
    return finish()
end

return { main = main }
