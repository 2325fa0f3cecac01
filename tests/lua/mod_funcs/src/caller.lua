return { main = function() return funcs.call("app:add", 4, 5) end }
