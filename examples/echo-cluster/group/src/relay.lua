-- The tutorial's relay, one per node: it joins the group "relays" instead
-- of registering a name, spawns one monitored worker per "echo" request as
-- the tutorial's does, and answers "count" with how many it handled.
local logger = require("logger")

local function main()
    local inbox = process.inbox()
    local events = process.events()
    local group = assert(pg.open("app:pg"))
    assert(group:join("relays"))
    logger:info("relay joined the group", { pid = process.pid() })
    local handled = 0
    while true do
        local r = channel.select { inbox:case_receive(), events:case_receive() }
        if r.channel == events then
            if r.value.kind == process.event.CANCEL then return 0 end
        else
            local msg = r.value
            if msg:topic() == "echo" then
                local echo = msg:payload():data()
                handled = handled + 1
                local _, err = process.spawn_monitored("app:worker", "app:processes",
                    echo.sender, echo.data)
                if err then logger:error("spawn failed", { error = err }) end
            elseif msg:topic() == "count" then
                process.send(msg:payload():data(), "count", { relay = process.pid(), n = handled })
            end
        end
    end
end

return { main = main }
