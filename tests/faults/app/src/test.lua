-- The fault sweep's app (tests/faults/run.sh): spawn, send, monitor, link,
-- timers, terminal I/O, exec, funcs.call and funcs.async, and the event
-- bus, with allocations failing
-- somewhere. Every operation must either work or say it failed: a failed
-- call returns nil, err (or raises, which ends this process with an error
-- the runner reports); every monitored child sends an EXIT, the linked one
-- a LINK_DOWN; every timer fires. What never comes is a hang, which the
-- runner's time limit turns into a failure; waits here are bounded only to
-- say which notice went missing.
local time = require("time")

local CHILDREN = 12
local LIMIT = "20s" -- failure bound only

local function main()
    local events = process.events()
    local inbox = process.inbox()
    local out = { spawned = 0, spawn_err = 0, exits = 0, exit_err = 0, hellos = 0,
                  link_down = 0, timers = 0, calls = 0, call_err = 0, reads = 0, events = 0 }
    process.set_options({ trap_links = true })

    local waiting = {}
    for i = 1, CHILDREN do
        local pid, err = process.spawn_monitored("app:child", "app:processes", process.pid(), i)
        if pid then
            waiting[pid] = true
            out.spawned = out.spawned + 1
        else
            assert(err, "spawn_monitored returned nothing")
            out.spawn_err = out.spawn_err + 1
        end
    end
    local linked = process.spawn_linked("app:child", "app:processes", process.pid(), 5)

    -- timers: a sleep, an after, a ticker's two ticks
    time.sleep("2ms")
    out.timers = out.timers + 1
    local after = time.after("3ms")
    local ticker = time.ticker("2ms")
    local tc = ticker:channel()

    local pending = out.spawned + (linked and 1 or 0)
    local ticks, after_done = 0, false
    local limit = time.after(LIMIT)
    while pending > 0 or ticks < 2 or not after_done do
        local r = channel.select {
            events:case_receive(), inbox:case_receive(), tc:case_receive(),
            after:case_receive(), limit:case_receive(),
        }
        if r.channel == limit then
            io.print("FAIL: waited " .. LIMIT .. ": " .. pending .. " notices, " ..
                (2 - ticks) .. " ticks, after " .. tostring(after_done))
            return 1
        elseif r.channel == events then
            local ev = r.value
            if ev.kind == process.event.EXIT and waiting[ev.from] then
                waiting[ev.from] = nil
                pending = pending - 1
                out.exits = out.exits + 1
                if ev.result.error then out.exit_err = out.exit_err + 1 end
            elseif ev.kind == process.event.LINK_DOWN and ev.from == linked then
                pending = pending - 1
                out.link_down = out.link_down + 1
            end
        elseif r.channel == inbox then
            out.hellos = out.hellos + 1
        elseif r.channel == tc then
            ticks = ticks + 1
            if ticks == 2 then ticker:stop() end
        elseif r.channel == after then
            after_done = true
        end
    end
    out.timers = out.timers + 3

    -- exec and funcs.call: a result or an error, never a wait for ever
    for i = 1, 3 do
        local v, err = funcs.call("app:add", i, 1)
        if v == i + 1 then out.calls = out.calls + 1 else assert(err); out.call_err = out.call_err + 1 end
        v, err = process.exec("app:child", "app:processes", process.pid(), 1)
        if v == 1 then out.calls = out.calls + 1 else assert(err); out.call_err = out.call_err + 1 end
    end

    -- funcs.async and a call with options: an outcome or an error
    local f, ferr = funcs.async("app:add", 5, 1)
    if f then
        local lim = time.after(LIMIT)
        local r = channel.select({ f:channel():case_receive(), lim:case_receive() })
        if r.channel == lim then
            io.print("FAIL: waited " .. LIMIT .. " for a Future")
            return 1
        end
        local p, perr = f:result()
        if p and p:data() == 6 then out.calls = out.calls + 1 else assert(perr); out.call_err = out.call_err + 1 end
    else
        assert(ferr, "async returned nothing")
        out.call_err = out.call_err + 1
    end
    local opts = { timeout = 20000, retry = { max_attempts = 2, initial_delay = 1 } }
    local v, err = funcs.new():with_context({ k = "v" }):with_options(opts):call("app:add", 1, 1)
    if v == 2 then out.calls = out.calls + 1 else assert(err); out.call_err = out.call_err + 1 end

    -- the event bus: subscribe and send work or say why (an event lost for
    -- want of memory is logged, so it is not waited for)
    local bus = require("events") -- `events` here is process.events()
    local sub, serr = bus.subscribe("faults.*")
    if sub then
        local ok, eerr = bus.send("faults.x", "k", "/p", { 1 })
        assert(ok or eerr, "send returned nothing")
        channel.select({ sub:channel():case_receive() }, true)
        sub:close()
        out.events = out.events + 1
    else
        assert(serr, "subscribe returned nothing")
    end

    -- terminal input: a line, or an error saying it was lost
    local line, err = io.readline()
    if line == "ping" then out.reads = out.reads + 1 else assert(err, "readline gave nothing") end

    local keys = {}
    for k in pairs(out) do keys[#keys + 1] = k end
    table.sort(keys)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = k .. "=" .. out[k] end
    -- the DONE line itself may find no memory: then say so (exit 1)
    assert(io.print("DONE " .. table.concat(parts, " ")))
    return 0
end

return { main = main }
