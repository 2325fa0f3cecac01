local function main()
    print("FAIL the entry ran")
end

return { main = main }
