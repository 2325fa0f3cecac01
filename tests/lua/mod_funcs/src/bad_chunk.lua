-- a function entry whose chunk fails when it runs: not a handler
error("the chunk fails")
return { main = function() return 1 end }
