local x = 1
error("chunk exploded")
return { main = function() return x end }
