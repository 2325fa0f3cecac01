-- Prints READY, then sends each stdin line ("build", "drop") to the hog
-- and prints its reply ("built N", "dropped 0"); "quit" or EOF ends it.
local io = require("io")

local function main()
    local inbox = process.inbox()
    io.print("READY")
    while true do
        local line = io.readline()
        if not line or line == "quit" then return 0 end
        process.send("hog", line, process.pid())
        local msg = inbox:receive()
        io.print(string.upper(msg:topic()) .. " " .. tostring(msg:payload():data()))
    end
end

return { main = main }
