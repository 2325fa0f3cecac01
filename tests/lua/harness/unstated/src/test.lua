-- A case that does not state how many checks it runs (no expect_checks).
local function main()
    t.test("a subtest", function() t.eq(1, 1, "one") end)
    return t.finish()
end
return { main = main }
