local function main()
    if type(top) == "table" and top.name == "lib" then
        io.print("PASS the top library is imported")
    else
        io.print("FAIL the top library is missing")
    end
    if type(l10_5) == "table" and l9_5.name == "lib" then
        io.print("PASS a library ten imports down is imported too")
    else
        io.print("FAIL the bottom library is missing")
    end
end

return { main = main }
