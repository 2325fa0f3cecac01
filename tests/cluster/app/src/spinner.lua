-- Keeps a worker busy for `s` seconds in plain Lua (preempted at each
-- slice, so other processes still get turns), then prints "spun".
local time = require("time")

return { main = function(s)
    local stop = time.now():unix_nano() + tonumber(s) * 1000000000
    local x = 0
    while time.now():unix_nano() < stop do
        for i = 1, 1000 do x = x + i % 7 end
    end
    print("spun " .. tostring(x > 0))
    return 0
end }
