-- ---- test helpers: the shared library app:testing (tests/lua/lib/testing.lua),
-- imported as `t`, and the memory checks (lib/memory_checks.lua) as `m`
local test, expect_msg, finish = t.test, t.expect_msg, t.finish
local start, run, ended, fits = m.start, m.run, m.ended, m.fits
-- ----------------------------------------------------------------------
local me = process.pid()

local function main()
    local sibling = process.spawn("app:sibling", "app:processes", me)

    -- app:hog (1M) in each mode: ended, whatever tried to catch it
    for _, c in ipairs({
        { "plain", "a process past its limit is ended with an Internal error" },
        { "pcall", "pcall cannot catch it" },
        { "xpcall", "nor xpcall (its handler does not run)" },
        { "nested_pcall", "nor nested pcalls" },
        { "coroutine", "nor coroutine.resume or coroutine.wrap" },
        { "string", "one large block past the limit" },
        { "task", "a spawned task past the limit ends its process" },
    }) do
        test(c[2], function() ended(run("app:hog", c[1]), "limit 1M") end)
    end
    test("a child's result decoded for a task waiting in exec", function()
        local pid = start("app:hog_2m", "exec")
        expect_msg("waiting", "30s")
        ended(t.wait_exit(pid, "30s"), "limit 2M")
    end)
    test("a message decoded for a task waiting in receive", function()
        local pid = start("app:hog_2m", "inbox")
        expect_msg("waiting", "30s")
        process.send(pid, "data", string.rep("m", 1536 * 1024))
        ended(t.wait_exit(pid, "30s"), "limit 2M")
    end)
    test("the limit as written: 512K", function()
        ended(run("app:hog_512k", "plain"), "limit 512K")
    end)
    test("the limit as written: bytes", function()
        ended(run("app:hog_bytes", "plain"), "limit 1048576")
    end)
    test("garbage under the limit is collected, not fatal", function()
        fits(run("app:hog", "churn"), 60000)
    end)
    test("other processes carry on", function()
        process.send(sibling, "ping", 7)
        t.eq(expect_msg("pong", "10s"):payload():data(), 7, "pong")
    end)
    process.send(sibling, "stop")
    return finish()
end

return { main = main }
