-- a library whose value is a function
return function(x) return "fn:" .. tostring(x) end
