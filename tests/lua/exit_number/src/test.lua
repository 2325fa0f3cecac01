return { main = function()
    return 3
end }
