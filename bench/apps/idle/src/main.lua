-- idle N: memory per process blocked in receive. Talks with bench/run over
-- stdout/stdin: prints "SYNC before" and waits for a line (bench/run reads
-- VmRSS), spawns N idle processes and waits until all N said they are up (each
-- then blocks in inbox:receive()), waits 200 ms as the peer does, prints
-- "SYNC after" and waits for a line (bench/run reads VmRSS again). Then it
-- monitors every process, tells each to stop and waits for the N EXITs (so
-- that the runtime need not terminate N processes at exit), and prints the
-- RESULT line (bench/run appends rss_bytes_per_proc, the RSS delta over
-- `live`). Asserts all N came up and all N ended normally.
--
-- To stop them, the pids are kept as integers (the pid's counter) in an array
-- allocated before the first reading, so that keeping them adds nothing to
-- the delta; a pid is rebuilt as prefix .. hex counter .. "}" (checked on the
-- first one).
local io = require("io")
local time = require("time")

local function now() return time.now():unix_nano() end
local function f3(x) return string.format("%.3f", x) end
local function fail(fmt, ...)
    io.eprint("FAILED idle: " .. string.format(fmt, ...))
    return 1
end

local function main(n)
    n = math.tointeger(tonumber(n))
    if not n or n < 1 then
        io.eprint("usage: idle N (N >= 1)")
        return 2
    end
    local inbox = process.inbox()
    local events = process.events()
    local me = process.pid()
    local ids = {}
    for i = 1, n do ids[i] = 0 end
    local prefix, width
    io.print("SYNC before")
    if not io.readline() then return fail("no answer from bench/run") end

    local t0 = now()
    for i = 1, n do
        local pid, err = process.spawn("app:idle", "app:processes", me)
        if not pid then return fail("spawn %d: %s", i, tostring(err)) end
        local p, hex = pid:match("^(.*|0x)(%x+)}$")
        if i == 1 then prefix, width = p, #hex end
        local id = hex and tonumber(hex, 16)
        if p ~= prefix or not id or prefix .. string.format("%0" .. width .. "x", id) .. "}" ~= pid then
            return fail("unexpected pid format %s", pid)
        end
        ids[i] = id
    end
    local t1 = now()
    local limit = time.after("600s")
    local live = 0
    for i = 1, n do
        local r = channel.select { inbox:case_receive(), limit:case_receive() }
        if r.channel == limit then return fail("only %d of %d processes up", i - 1, n) end
        if r.value:topic() ~= "up" then return fail("unexpected %s", r.value:topic()) end
        live = live + 1
    end
    local t2 = now()
    time.sleep("200ms")
    io.print("SYNC after")
    if not io.readline() then return fail("no answer from bench/run") end
    if live ~= n then return fail("%d of %d up", live, n) end

    -- stop them all and wait for every EXIT
    local fmt = "%0" .. width .. "x"
    for i = 1, n do
        local pid = prefix .. string.format(fmt, ids[i]) .. "}"
        local ok, err = process.monitor(pid)
        if not ok then return fail("monitor %s: %s", pid, tostring(err)) end
        process.send(pid, "stop")
    end
    limit = time.after("600s")
    for i = 1, n do
        local r = channel.select { events:case_receive(), limit:case_receive() }
        if r.channel == limit then return fail("only %d of %d processes ended", i - 1, n) end
        local ev = r.value
        if ev.kind ~= process.event.EXIT then return fail("unexpected event %s", tostring(ev.kind)) end
        if ev.result and ev.result.error then return fail("%s failed: %s", ev.from, tostring(ev.result.error)) end
    end

    io.print(table.concat({
        "RESULT system=wippy scenario=idle", "n=" .. n, "live=" .. live,
        "spawn_per_s=" .. f3(n / ((t2 - t0) / 1e9)),
        "spawn_calls_per_s=" .. f3(n / ((t1 - t0) / 1e9)),
    }, " "))
    return 0
end

return { main = main }
