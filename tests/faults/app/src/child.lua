-- A child of the fault sweep: a timer, a message to its parent, then a
-- result (an error for every fifth, so EXITs are abnormal too).
local time = require("time")

local function main(parent, i)
    time.sleep("1ms")
    process.send(parent, "hello", i)
    if i % 5 == 0 then error("child " .. i .. " fails on purpose") end
    return i
end

return { main = main }
