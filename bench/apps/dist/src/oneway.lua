-- dist_oneway FACTORY N (node A): as the peer, asks node B's factory for a
-- sink of N messages, then from "go" on sends it N small messages ("m" with
-- the numbers 1..N) one after another and waits for the sink's "sink_done":
-- msgs_per_s = N over that time. Also send_calls_per_s: N over the send
-- loop alone (sends return once the frame is queued for the cluster's
-- sender thread). Asserted: every send returned true, the sink got N
-- messages in order.
local io = require("io")

local f3, expect, int_arg = b.f3, b.expect, b.int_arg
local fail = b.failer("dist_oneway")

local function main(factory, n)
    n = int_arg(n)
    if type(factory) ~= "string" or not factory:match("^{.*}$") or not n or n < 1 then
        io.eprint("usage: dist_oneway FACTORY_PID N (N >= 1)")
        return 2
    end
    local inbox = process.inbox()
    local ok, err = process.send(factory, "sink", n)
    if not ok then return fail("cannot reach the factory: %s", tostring(err)) end
    local m, e = expect(inbox, "sink", "30s")
    if not m then return fail("%s", e) end
    local sink = m:payload():data()

    local t0 = b.now()
    process.send(sink, "go")
    for i = 1, n do
        ok, err = process.send(sink, "m", i)
        if not ok then return fail("send %d: %s", i, tostring(err)) end
    end
    local t_sent = b.now()
    local done, derr = expect(inbox, "sink_done", tostring(120 + n // 10000) .. "s")
    local t1 = b.now()
    if not done then
        process.send(sink, "count")
        local c = expect(inbox, "sink_count", "10s")
        local d = c and c:payload():data()
        return fail("%s; the sink has %s of %d messages%s", derr, d and tostring(d.n) or "?", n,
                    d and d.bad and ("; " .. d.bad) or "")
    end
    local d = done:payload():data()
    if d.n ~= n then return fail("the sink got %d of %d messages", d.n, n) end
    if d.bad then return fail("out of order: %s", d.bad) end

    io.print(table.concat({
        "RESULT system=wippy scenario=dist_oneway", "n=" .. n,
        "msgs_per_s=" .. f3(n / ((t1 - t0) / 1e9)),
        "send_calls_per_s=" .. f3(n / ((t_sent - t0) / 1e9)),
        "elapsed_ms=" .. f3((t1 - t0) / 1e6),
    }, " "))
    return 0
end

return { main = main }
