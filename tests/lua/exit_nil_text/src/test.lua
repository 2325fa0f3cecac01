return { main = function()
    return nil, "custom failure text"
end }
