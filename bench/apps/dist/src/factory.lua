-- Node B's factory (as the peer's bench_sink_factory): "sink" with a count
-- starts a sink for that many messages and answers "sink" with its pid;
-- "ponger" starts a ponger (pong.lua) and answers "ponger" with its pid;
-- "targets" with a count starts that many waiting processes (target.lua)
-- and answers "targets" with the list of their pids, and "ping" is answered
-- with "pong" (dist_down: node A monitors the targets, and the node
-- answers). Anything else (dist_down's probes) is dropped.
local function main()
    local inbox = process.inbox()
    while true do
        local m = inbox:receive()
        local topic = m:topic()
        if topic == "sink" then
            local pid = assert(process.spawn("app:sink", "app:processes", m:payload():data()))
            process.send(m:from(), "sink", pid)
        elseif topic == "ponger" then
            local pid = assert(process.spawn("app:pong", "app:processes"))
            process.send(m:from(), "ponger", pid)
        elseif topic == "targets" then
            local pids = {}
            for i = 1, m:payload():data() do
                pids[i] = assert(process.spawn("app:target", "app:processes"))
            end
            process.send(m:from(), "targets", pids)
        elseif topic == "ping" then
            process.send(m:from(), "pong")
        end
    end
end

return { main = main }
