-- Reports what it sees of globals another process modified.
local function main(parent)
    process.send(parent, "seen", {
        string_trim = type(string.trim),
        upper_ok = string.upper("abc") == "ABC",
        global = type(globals_test_global),
        tbl_extra = type(table.extra),
    })
    return 0
end
return { main = main }
