-- Sleeps until the common deadline (Unix ns), then tells the parent when it
-- went to sleep and when it woke.
local time = require("time")
local function main(parent, deadline)
    local t1 = time.now():unix_nano()
    if deadline > t1 then time.sleep(deadline - t1) end
    local t2 = time.now():unix_nano()
    process.send(parent, "woke", { t1, t2 })
    return 0
end
return { main = main }
