-- pingpong N: round trip between two Lua processes on app:processes (the
-- pinger and the ponger; this process only starts them and prints).
-- Asserts N round trips.
local io = require("io")
local time = require("time")

local function f3(x) return string.format("%.3f", x) end
local function fail(fmt, ...)
    io.eprint("FAILED pingpong: " .. string.format(fmt, ...))
    return 1
end

local function main(n)
    n = math.tointeger(tonumber(n))
    if not n or n < 1 then
        io.eprint("usage: pingpong N (N >= 1)")
        return 2
    end
    local inbox = process.inbox()
    local pong = process.spawn("app:pong", "app:processes")
    local ping = pong and process.spawn("app:ping", "app:processes", process.pid(), pong, n)
    if not ping then return fail("spawn failed") end
    local limit = time.after("600s")
    local r = channel.select { inbox:case_receive(), limit:case_receive() }
    if r.channel == limit then return fail("timed out") end
    if r.value:topic() ~= "pinged" then return fail("unexpected %s", r.value:topic()) end
    local d = r.value:payload():data()
    if d.n ~= n then return fail("%d of %d round trips", d.n, n) end
    io.print(table.concat({
        "RESULT system=wippy scenario=pingpong", "n=" .. n,
        "roundtrip_ns=" .. f3(d.ns / n),
        "roundtrip_us=" .. f3(d.ns / n / 1000),
        "roundtrips_per_s=" .. f3(n / (d.ns / 1e9)),
    }, " "))
    return 0
end

return { main = main }
