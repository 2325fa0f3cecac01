-- The relay: registered as "relay", spawns one monitored worker per echo
-- request, logs each worker's exit and, from a background task, statistics.
local logger = require("logger")
local time = require("time")

local stats = { messages = 0, workers_spawned = 0, workers_exited = 0 }

local function stats_reporter()
    while true do
        time.sleep("5s")
        logger:info("stats", stats)
    end
end

local function main()
    local inbox = process.inbox()
    local events = process.events()

    process.registry.register("relay")
    logger:info("relay started", { pid = process.pid() })
    coroutine.spawn(stats_reporter)

    while true do
        local r = channel.select { inbox:case_receive(), events:case_receive() }
        if r.channel == events then
            local event = r.value
            if event.kind == process.event.CANCEL then
                logger:info("relay stopping", { reason = event.reason })
                return 0
            elseif event.kind == process.event.EXIT then
                stats.workers_exited = stats.workers_exited + 1
                logger:info("worker exited", { from = event.from, result = event.result })
            end
        elseif r.value:topic() == "echo" then
            local echo = r.value:payload():data()
            stats.messages = stats.messages + 1
            local _, err = process.spawn_monitored("app:worker", "app:processes",
                                                   echo.sender, echo.data)
            if err then
                logger:error("spawn failed", { error = err })
            else
                stats.workers_spawned = stats.workers_spawned + 1
            end
        end
    end
end

return { main = main }
