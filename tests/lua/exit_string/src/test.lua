return { main = function()
    return "not printed"
end }
