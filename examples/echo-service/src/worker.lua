-- One worker per message: answers the sender with the upper-cased text and
-- its own pid, then exits. The input "crash" makes it raise an error instead,
-- to show what the relay does with a failed worker.
local time = require("time")

local function main(sender_pid, data, id)
    time.sleep("100ms")
    if data == "crash" then
        error("worker crashed on purpose (input \"crash\")")
    end
    process.send(sender_pid, "echo_response", {
        id = id,
        data = string.upper(data),
        worker = process.pid(),
    })
    return 0
end

return { main = main }
