-- dist_down's watcher (node A): monitors `target`, a process on node B,
-- says "watching" to the parent, then waits for the target's EXIT and
-- reports "fired" with when it arrived (wall clock, ns) and its error's
-- kind and message (node B was killed or stopped: "node disconnected",
-- kind Unavailable, is expected; the parent checks).
local time = require("time")

local function main(parent, target)
    local events = process.events()
    local ok, err = process.monitor(target)
    if not ok then
        process.send(parent, "watch_failed", tostring(err))
        return 1
    end
    process.send(parent, "watching")
    while true do
        local ev = events:receive()
        if ev.kind == process.event.EXIT and ev.from == target then
            local at = time.now():unix_nano()
            local e = ev.result and ev.result.error
            process.send(parent, "fired", { at = at, kind = e and e:kind() or "none",
                                            message = e and e:message()
                                                or ("no error, value " .. tostring(ev.result and ev.result.value)) })
            return 0
        end
    end
end

return { main = main }
