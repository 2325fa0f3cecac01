return { main = function()
    io.print("PASS returning nil, text")
    return nil, "custom failure text"
end }
