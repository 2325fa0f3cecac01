-- The relay: registered as "relay" (in `scope`, a process.registry scope;
-- default LOCAL: bench/apps/dist's node B gives CONSISTENT, the cluster's
-- name, as examples/echo-cluster's relay); per "echo" request it starts one
-- monitored worker with the sender and the data as start arguments, counts
-- the requests and receives one EXIT per worker. A "stats" message is
-- answered with the counts ("relay_stats") once every worker's EXIT has
-- arrived (at once if none is missing). A worker that failed is counted
-- (the bench asserts there are none).
local function main(parent, sleep_ms, scope)
    local inbox = process.inbox()
    local events = process.events()
    local ok, err = process.registry.register("relay", nil, scope)
    if not ok then error("relay: register failed: " .. tostring(err)) end
    process.send(parent, "relay_ready")

    local msgs, downs, failed, max_live = 0, 0, 0, 0
    local asked -- who sent "stats" while some EXITs were still missing
    local function report(to)
        process.send(to, "relay_stats",
                     { msgs = msgs, downs = downs, failed = failed, max_live = max_live })
    end
    while true do
        local r = channel.select { inbox:case_receive(), events:case_receive() }
        if r.channel == events then
            local ev = r.value
            if ev.kind == process.event.EXIT then
                downs = downs + 1
                if ev.result and ev.result.error then failed = failed + 1 end
                if asked and downs == msgs then
                    report(asked)
                    asked = nil
                end
            elseif ev.kind == process.event.CANCEL then
                return 0
            end
        else
            local m = r.value
            local topic = m:topic()
            if topic == "echo" then
                local echo = m:payload():data()
                local pid, serr = process.spawn_monitored("app:worker", "app:processes",
                                                          echo.sender, echo.data, sleep_ms)
                if not pid then error("relay: spawn failed: " .. tostring(serr)) end
                msgs = msgs + 1
                local live = msgs - downs
                if live > max_live then max_live = live end
            elseif topic == "stats" then
                if downs == msgs then report(m:from()) else asked = m:from() end
            end
        end
    end
end

return { main = main }
