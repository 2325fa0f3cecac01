-- The chaos process: every KILL_MIN_MS..KILL_MAX_MS (uniformly at random)
-- it looks up the registered relay and terminates it (spec 03:
-- "process terminated", an abnormal exit, so its service restarts it). A
-- moment when no relay is registered (one is being restarted) is a miss.
-- "stop" from the parent ends it with a "killed" report.
local time = require("time")

local function main(parent, min_ms, max_ms)
    local inbox = process.inbox()
    math.randomseed(time.now():unix_nano())
    local kills, misses, last = 0, 0, nil
    while true do
        local wait = time.after(math.random(min_ms, max_ms) * 1000000)
        local r = channel.select { inbox:case_receive(), wait:case_receive() }
        if r.channel == inbox then
            if r.value:topic() == "stop" then break end
        else
            local pid = process.registry.lookup("relay")
            if pid and pid ~= last and process.terminate(pid) then
                kills, last = kills + 1, pid
            else
                misses = misses + 1
            end
        end
    end
    process.send(parent, "killed", { kills = kills, misses = misses })
    return 0
end

return { main = main }
