-- The relay: registered as "relay", spawns one monitored worker per echo
-- request, logs each worker's exit and, from a background task, statistics.
-- It remembers which CLI each worker answers (worker pid -> sender), so when
-- a worker fails it tells that CLI at once (topic "echo_error") instead of
-- letting it wait for its timeout. The input "crash relay" makes the relay
-- itself raise an error: its service (app:relay-service) then restarts it
-- and the new relay registers the name again.
local logger = require("logger")
local time = require("time")

local stats = { messages = 0, workers_spawned = 0, workers_exited = 0, workers_failed = 0 }

local function stats_reporter()
    while true do
        time.sleep("5s")
        logger:info("stats", stats)
    end
end

local function main()
    local inbox = process.inbox()
    local events = process.events()
    local pending = {}   -- worker pid -> { sender = pid, id = request id }

    process.registry.register("relay")
    logger:info("relay started")   -- the logger adds the pid field itself
    coroutine.spawn(stats_reporter)

    while true do
        local r = channel.select { inbox:case_receive(), events:case_receive() }
        if r.channel == events then
            local event = r.value
            if event.kind == process.event.CANCEL then
                logger:info("relay stopping", { reason = event.reason })
                return 0
            elseif event.kind == process.event.EXIT then
                local req = pending[event.from]
                pending[event.from] = nil
                stats.workers_exited = stats.workers_exited + 1
                local err = event.result and event.result.error
                if err then
                    stats.workers_failed = stats.workers_failed + 1
                    logger:error("worker failed", { from = event.from, error = tostring(err) })
                    if req then
                        process.send(req.sender, "echo_error", {
                            id = req.id,
                            error = tostring(err),
                            worker = event.from,
                        })
                    end
                else
                    logger:info("worker exited", { from = event.from, result = event.result })
                end
            end
        elseif r.value:topic() == "echo" then
            local echo = r.value:payload():data()
            stats.messages = stats.messages + 1
            if echo.data == "crash relay" then
                error("relay crashed on purpose (input \"crash relay\")")
            end
            local pid, err = process.spawn_monitored("app:worker", "app:processes",
                                                     echo.sender, echo.data, echo.id)
            if err then
                logger:error("spawn failed", { error = tostring(err) })
                process.send(echo.sender, "echo_error", { id = echo.id, error = tostring(err) })
            else
                stats.workers_spawned = stats.workers_spawned + 1
                pending[pid] = { sender = echo.sender, id = echo.id }
            end
        end
    end
end

return { main = main }
