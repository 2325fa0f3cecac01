-- Holds about 100 MB of small tables and strings between "build" and
-- "drop"; answers each command to the sender (the payload).
local N = 800000

local function main()
    process.registry.register("hog")
    local inbox = process.inbox()
    local data
    while true do
        local msg = inbox:receive()
        local cmd, from = msg:topic(), msg:payload():data()
        if cmd == "build" then
            data = {}
            for i = 1, N do data[i] = { i, "item " .. i } end
            process.send(from, "built", #data)
        elseif cmd == "drop" then
            data = nil
            process.send(from, "dropped", 0)
        end
    end
end

return { main = main }
