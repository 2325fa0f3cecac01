return { main = function()
    io.print("PASS returning 3")
    return 3
end }
