-- A dependency of the host app:processes, so it is asked to stop after
-- that host stopped: it says so and stays, for the test to scrape the
-- shutdown's exits (the test then forces the node to exit).
local function main()
    local events = process.events()
    while true do
        local ev = events:receive()
        if ev.kind == process.event.CANCEL then
            print("lingerer cancelled")
            process.inbox():receive()
        end
    end
end
return { main = main }
