-- the chunk itself raises (line 2)
error("chunk raised")
return { main = function() return 0 end }
