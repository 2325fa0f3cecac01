-- top-level code runs once per process: the counter is private
local count = 0
count = count + 1
return { main = function() return count end }
