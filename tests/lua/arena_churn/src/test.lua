-- ---- test helpers: the shared library app:testing (tests/lua/lib/testing.lua),
-- imported as `t`; local aliases keep the call sites short
local test, eq, wait_exit, finish = t.test, t.eq, t.wait_exit, t.finish
-- ----------------------------------------------------------------------
-- A process's Lua memory comes from its own arena and chunks, with free
-- lists for small blocks (vm/lmem.c). Churning processes, several at once,
-- must find every object they keep as they made it.

local function churn(iterations, window, copies)
    local pids = {}
    for i = 1, copies do
        pids[i] = assert(process.spawn_monitored("app:churn", "app:processes", iterations, window))
    end
    for i = 1, copies do
        local r = wait_exit(pids[i], "30s").result
        eq(r.error, nil, "exit error of process " .. i)
        eq(type(r.value), "table", "result of process " .. i)
        eq(r.value.bad, 0, "objects found changed in process " .. i)
        eq(r.value.n, iterations, "objects made in process " .. i)
    end
end

local function main()
    test("a small live set: blocks reused from the free lists and chunks", function()
        churn(20000, 8, 4)
    end)

    test("a live set larger than every chunk: blocks from jemalloc too", function()
        churn(5000, 400, 4)
    end)

    test("a live set of a few objects: the arena's holes reused", function()
        -- array parts and strings over 256 bytes are large blocks made in
        -- the arena; freed, each is a hole that later blocks, large and
        -- small, are carved from
        churn(3000, 3, 8)
    end)

    test("many short-lived churners at once", function()
        churn(300, 20, 64)
    end)

    return finish()
end

return { main = main }
