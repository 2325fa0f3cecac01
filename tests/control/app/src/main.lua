-- Builds the known workload (see _index.yaml), then waits.
local function main(idle, hoard)
    for _ = 1, idle do process.spawn("app:idle", "app:processes") end
    local hoarder = process.spawn_linked_monitored("app:hoarder", "app:processes")
    for i = 1, hoard do process.send(hoarder, "junk", i) end
    local brief = process.spawn_monitored("app:brief", "app:processes")
    local events = process.events()
    -- the brief one's EXIT: it has ended when "workload ready" is printed
    while true do
        local ev = events:receive()
        if ev.kind == process.event.EXIT and ev.from == brief then break end
    end
    print("workload ready main=" .. process.pid() .. " hoarder=" .. hoarder
          .. " brief=" .. brief)
    process.inbox():receive()
end

return { main = main }
