-- The checks never run (a main that returns before them): exit 0 and no
-- FAIL line, but 0 of the 1 stated checks passed.
local function main()
    if process.pid() then return t.finish() end
    t.test("never reached", function() t.eq(1, 1, "one") end)
    return t.finish()
end
return { main = main }
