-- soak DURATION_S: mixed load for DURATION_S seconds in one runtime, for
-- bench/soak (ASan: no sanitizer report; release: RSS flat after warm-up).
-- Four lanes run at once, each its own process (lanes.lua): the echo service
-- (50 fresh chaos clients per round, 20 requests each, 1 % failing workers),
-- spawn churn (1,000 children and 200 monitored round trips per
-- round), timers (300 sleepers, a 2 ms ticker, 300 dropped 10 s timers per
-- round) and ping-pong (20,000 round trips per round with a fresh pair).
-- Each lane checks its counts every round; the first mismatch ends it with
-- an error, and this driver then fails (exit status 1). Prints one RESULT
-- line with each lane's rounds and operations.
local io = require("io")
local time = require("time")

local fail = b.failer("soak")

local LANES = {
    { name = "echo", entry = "app:lane_echo", arg = 50 },
    { name = "spawn", entry = "app:lane_spawn", arg = 1000 },
    { name = "timers", entry = "app:lane_timers", arg = 300 },
    { name = "pingpong", entry = "app:lane_pingpong", arg = 20000 },
}

local function main(duration_s)
    duration_s = b.int_arg(duration_s)
    if not duration_s or duration_s < 1 then
        io.eprint("usage: soak DURATION_S (an integer >= 1)")
        return 2
    end
    local inbox = process.inbox()
    local events = process.events()
    local me = process.pid()
    local t0 = b.now()
    local deadline = t0 + duration_s * 1000000000
    for _, l in ipairs(LANES) do
        if not process.spawn_monitored(l.entry, "app:processes", me, deadline, l.arg) then
            return fail("%s lane spawn failed", l.name)
        end
    end
    local reports, exits = {}, 0
    local limit = time.after(tostring(duration_s + 300) .. "s")
    while exits < #LANES do
        local r = channel.select { inbox:case_receive(), events:case_receive(), limit:case_receive() }
        if r.channel == limit then return fail("only %d of %d lanes ended", exits, #LANES) end
        if r.channel == events then
            local ev = r.value
            if ev.kind ~= process.event.EXIT then return fail("unexpected event %s", tostring(ev.kind)) end
            if ev.result and ev.result.error then return fail("a lane failed: %s", tostring(ev.result.error)) end
            exits = exits + 1
        elseif r.value:topic() == "lane" then
            local d = r.value:payload():data()
            reports[d.name] = d
        else
            return fail("unexpected %s", r.value:topic())
        end
    end
    local fields = { "RESULT system=wippy scenario=soak", "duration_s=" .. duration_s,
                     "elapsed_s=" .. b.f3((b.now() - t0) / 1e9) }
    for _, l in ipairs(LANES) do
        local d = reports[l.name]
        if not d or d.rounds < 1 then return fail("the %s lane ran no round", l.name) end
        fields[#fields + 1] = l.name .. "_rounds=" .. d.rounds
        fields[#fields + 1] = l.name .. "_ops=" .. d.ops
    end
    fields[#fields + 1] = "echo_worker_failures=" .. reports.echo.failures
    fields[#fields + 1] = "timer_ticks=" .. reports.timers.ticks
    io.print(table.concat(fields, " "))
    return 0
end

return { main = main }
