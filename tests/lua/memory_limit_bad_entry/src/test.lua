-- Never runs: the boot fails first.
local function main()
    io.print("FAIL the entry ran")
    return 0
end

return { main = main }
