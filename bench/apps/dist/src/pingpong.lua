-- dist_pingpong FACTORY N (node A): as the peer, asks node B's factory for
-- a ponger; the pinger here (bench/apps/pingpong's ping.lua) does 1,000
-- warm-up round trips, then N timed ones, one at a time. Asserted: N pongs.
local io = require("io")

local f3, expect, int_arg = b.f3, b.expect, b.int_arg
local fail = b.failer("dist_pingpong")

local function main(factory, n)
    n = int_arg(n)
    if type(factory) ~= "string" or not factory:match("^{.*}$") or not n or n < 1 then
        io.eprint("usage: dist_pingpong FACTORY_PID N (N >= 1)")
        return 2
    end
    local inbox = process.inbox()
    local ok, err = process.send(factory, "ponger")
    if not ok then return fail("cannot reach the factory: %s", tostring(err)) end
    local m, e = expect(inbox, "ponger", "30s")
    if not m then return fail("%s", e) end
    local pong = m:payload():data()
    local ping, serr = process.spawn("app:ping", "app:processes", process.pid(), pong, n, 1000)
    if not ping then return fail("ping spawn: %s", tostring(serr)) end
    local r, perr = expect(inbox, "pinged", tostring(120 + n // 1000) .. "s")
    if not r then return fail("%s", perr) end
    local d = r:payload():data()
    if d.n ~= n then return fail("%d of %d round trips", d.n, n) end
    io.print(table.concat({
        "RESULT system=wippy scenario=dist_pingpong", "n=" .. n,
        "roundtrip_ns=" .. f3(d.ns / n),
        "roundtrip_us=" .. f3(d.ns / n / 1000),
        "roundtrips_per_s=" .. f3(n / (d.ns / 1e9)),
    }, " "))
    return 0
end

return { main = main }
