-- One worker per message: after the optional sleep, answers the sender with
-- the upper-cased data and its own pid, then exits.
local time = require("time")

local function main(sender, data, sleep_ms)
    if sleep_ms > 0 then time.sleep(sleep_ms * 1000000) end
    process.send(sender, "echo_response", { data = string.upper(data), worker = process.pid() })
    return 0
end

return { main = main }
