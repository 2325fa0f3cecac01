-- spawn N: (1) N fire-and-forget spawns of a trivial process; spawn_calls_per_s
-- is N over the time of the spawn calls, spawn_exit_per_s N over the time
-- until every child has run and exited. The Erlang peer polls its process
-- count for the second; Lua has no process count, so each child sends the
-- parent one message, and the run ends when all N arrived (a little more
-- work than the peer's). (2) N/5 sequential spawn_monitored + EXIT round
-- trips. Asserts N messages, N/5 EXITs (all normal).
local io = require("io")
local time = require("time")

local function now() return time.now():unix_nano() end
local function f3(x) return string.format("%.3f", x) end
local function fail(fmt, ...)
    io.eprint("FAILED spawn: " .. string.format(fmt, ...))
    return 1
end

local function main(n)
    n = math.tointeger(tonumber(n))
    if not n or n < 5 then
        io.eprint("usage: spawn N (N >= 5)")
        return 2
    end
    local inbox = process.inbox()
    local events = process.events()
    local me = process.pid()

    local t0 = now()
    for i = 1, n do
        local pid, err = process.spawn("app:child", "app:processes", me)
        if not pid then return fail("spawn %d: %s", i, tostring(err)) end
    end
    local t1 = now()
    local limit = time.after("600s")
    for i = 1, n do
        local r = channel.select { inbox:case_receive(), limit:case_receive() }
        if r.channel == limit then return fail("only %d of %d children ran", i - 1, n) end
        if r.value:topic() ~= "x" then return fail("unexpected %s", r.value:topic()) end
    end
    local t2 = now()

    local nseq = n // 5
    local t3 = now()
    for i = 1, nseq do
        local pid, err = process.spawn_monitored("app:trivial", "app:processes")
        if not pid then return fail("spawn_monitored %d: %s", i, tostring(err)) end
        local ev = events:receive()
        if ev.kind ~= process.event.EXIT or ev.from ~= pid then
            return fail("expected the EXIT of %s, got %s from %s", pid, tostring(ev.kind), tostring(ev.from))
        end
        if ev.result and ev.result.error then return fail("child failed: %s", tostring(ev.result.error)) end
    end
    local t4 = now()

    io.print(table.concat({
        "RESULT system=wippy scenario=spawn", "n=" .. n,
        "spawn_calls_per_s=" .. f3(n / ((t1 - t0) / 1e9)),
        "spawn_exit_per_s=" .. f3(n / ((t2 - t0) / 1e9)),
        "n_seq=" .. nseq,
        "spawn_monitor_down_roundtrip_us=" .. f3((t4 - t3) / nseq / 1000),
        "spawn_monitor_down_seq_per_s=" .. f3(nseq / ((t4 - t3) / 1e9)),
    }, " "))
    return 0
end

return { main = main }
