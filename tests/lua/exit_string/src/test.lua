return { main = function()
    io.print("PASS returning a string")
    return "not printed"
end }
