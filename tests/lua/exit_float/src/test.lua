return { main = function()
    return 7.9
end }
