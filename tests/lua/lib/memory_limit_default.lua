-- memory_limit_default.lua: the test of the memory_limit_config and
-- memory_limit_set cases (their `command` files give the default limit
-- expected and what fits under it).
-- ---- test helpers: the shared library app:testing (tests/lua/lib/testing.lua),
-- imported as `t`, and the memory checks (lib/memory_checks.lua) as `m`
local test, finish = t.test, t.finish
local run, ended, fits = m.run, m.ended, m.fits
-- ----------------------------------------------------------------------
-- limit: the default expected (as written); fits_kb: KB that fit under it.
local function main(limit, fits_kb)
    local kb = tonumber(fits_kb)
    test("process.memory_limit limits an entry without its own", function()
        ended(run("app:hog", "plain"), "limit " .. limit)
        fits(run("app:hog", "grow", kb), kb)
        ended(run("app:hog", "grow", 4 * 1024), "limit " .. limit)
    end)
    test("an entry's memory_limit wins", function()
        ended(run("app:hog_own", "plain"), "limit 1M")
    end)
    test("memory_limit: 0 is no limit", function()
        fits(run("app:hog_free", "grow", 4 * 1024), 4 * 1024)
    end)
    return finish()
end

return { main = main }
