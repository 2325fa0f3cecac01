-- The test runner, in the shape Wippy projects carry their own copy of:
-- discovers the test functions through the registry, groups them by
-- meta.suite, orders them by meta.order then id, calls each with
-- funcs.call and reports. `wippy run test [words]` keeps only the tests
-- whose id contains one of the words. Exit code: 1 if any test failed.
local io = require("io")
local registry = require("registry")
local funcs = require("funcs")
local time = require("time")

type Test = {id: string, kind: string, suite: string, order: number, meta: {[string]: any}}

local SLOW = 200 * time.MILLISECOND

local function pad(s: string, width: number?): string
    local w = width or 48
    if #s >= w then return s end
    return s .. string.rep(".", w - #s)
end

local function wanted(id: string, words: {string}): boolean
    if #words == 0 then return true end
    for _, w in ipairs(words) do
        if string.find(id, w, 1, true) then return true end
    end
    return false
end

-- A test fails when the call raised, returned an error, or returned
-- exactly false. "pool not found" (a function pool still starting) is
-- retried.
local function run_one(id: string): (boolean, any)
    local last: any = nil
    for _ = 1, 3 do
        local ok, result, err = pcall(funcs.call, id)
        local problem = (not ok and result) or err
        if problem == nil then
            if result == false then return false, "returned false" end
            return true, nil
        end
        last = problem
        if not string.find(tostring(problem), "pool not found", 1, true) then break end
    end
    return false, last
end

local function collect(words: {string}): ({[string]: any[]}, {any})
    local suites: {[string]: any[]} = {}
    local names: {any} = {}
    for _, e in ipairs(registry.find({ ["meta.type"] = "test" })) do
        if e.kind == "function.lua" and wanted(e.id, words) then
            local meta = e.meta or {}
            local suite = meta.suite or "default"
            if not suites[suite] then
                suites[suite] = {}
                table.insert(names, suite)
            end
            local t: Test = { id = e.id, kind = e.kind, suite = suite, order = meta.order or 0,
                meta = meta }
            table.insert(suites[suite], t)
        end
    end
    table.sort(names)
    for _, list in pairs(suites) do
        table.sort(list, function(a: Test, b: Test): boolean
            if a.order ~= b.order then return a.order < b.order end
            return a.id < b.id
        end)
    end
    return suites, names
end

local function main(): integer
    local words: {string} = io.args()
    -- (Wippy's runner sleeps here for its services to come up; ours start,
    -- hosts included, before a command's process runs, so nothing to wait for)
    local suites, names = collect(words)
    local passed, failed, total = 0, 0, 0
    for _, suite in ipairs(names) do
        io.print(suite)
        for _, t in ipairs(suites[suite]) do
            total = total + 1
            io.write("  " .. pad(t.id) .. " ")
            io.flush()
            local started = time.now()
            local ok, err = run_one(t.id)
            local took = time.now():sub(started)
            local ms: integer = took:milliseconds()
            local slow = took:nanoseconds() > SLOW and " slow" or ""
            if ok then
                passed = passed + 1
                io.print(string.format("ok %dms%s", ms, slow))
            else
                failed = failed + 1
                io.print(string.format("FAIL %dms: %s", ms, tostring(err)))
            end
        end
    end
    io.print("")
    if failed == 0 then
        io.print(string.format("PASSED %d tests", total))
        return 0
    end
    io.print(string.format("FAILED %d passed %d failed", passed, failed))
    return 1
end

return { main = main }
