-- load MODE TARGET N DURATION_S WARMUP_S (bench/run load): this node's
-- clients drive the echo service of an already running cluster, at the
-- relay TARGET: a pid, or a name, which process.send resolves among the
-- cluster's names first (the relay registers it in a cluster scope, e.g.
-- examples/echo-cluster's in CONSISTENT), then this node's own.
--   MODE closed: N client processes (bench/apps/echo's client.lua), each
--                request -> reply (2 s timeout), as `echo`
--   MODE open:   N requests per second from one generator, replies to one
--                collector (bench/apps/echo's generator.lua and
--                collector.lua), latency from each request's due time, as
--                `openloop`
-- The relay speaks the tutorial's protocol: "echo" {sender, data} answered
-- by a worker with "echo_response" {data = upper(data), worker = pid}
-- (bench/apps/echo's relay or examples/echo-service's). First one request
-- must come back within 5 s. The relay's own counts are not asked for (a
-- service's relay need not answer "stats"), so only this side's counts are
-- asserted: every reply right, replies + timeouts == requests, at least
-- one echo. Timeouts are reported, not a failure.
local io = require("io")

local f3, expect, int_arg, pct = b.f3, b.expect, b.int_arg, b.pct
local fail = b.failer("load")

local function main(mode, target, n, dur_s, warm_s)
    n, dur_s, warm_s = int_arg(n), int_arg(dur_s), int_arg(warm_s)
    if (mode ~= "closed" and mode ~= "open") or type(target) ~= "string" or target == ""
        or not (n and dur_s and warm_s) or n < 1 or dur_s < 1 or warm_s < 0 then
        io.eprint("usage: load closed|open TARGET N DURATION_S WARMUP_S")
        return 2
    end
    local inbox = process.inbox()
    local me = process.pid()
    local is_pid = target:match("^{.*}$") ~= nil

    -- one request first: the service is there and answers
    local ok, err = process.send(target, "echo", { sender = me, data = "hello world" })
    if not ok then
        return fail("cannot send to %s: %s%s", target, tostring(err),
                    is_pid and "" or " (no process of the cluster holds the name: the relay "
                    .. "must register it in a cluster scope, e.g. CONSISTENT)")
    end
    local first, ferr = expect(inbox, "echo_response", "5s")
    if not first then return fail("no answer from the relay %s: %s", target, ferr) end

    local fields = { "RESULT system=wippy scenario=load", "mode=" .. mode, "relay=" .. target }
    if mode == "closed" then
        local t, cerr = b.closed_loop(inbox, n, warm_s, dur_s, target)
        if not t then return fail("%s", cerr) end
        table.move({ "clients=" .. n, "duration_s=" .. dur_s, "warmup_s=" .. warm_s,
                     "echoes=" .. t.count, "echoes_per_s=" .. f3(t.count / dur_s),
                     "timeouts=" .. t.tos }, 1, 6, #fields + 1, fields)
        b.latency_fields(fields, t.lats)
        fields[#fields + 1] = "requests=" .. t.sent
        fields[#fields + 1] = "replies=" .. t.replies
        io.print(table.concat(fields, " "))
        if t.bad ~= 0 then return fail("%d replies were not {data=HELLO WORLD, worker=pid}", t.bad) end
        if t.count == 0 then return fail("no echo in the measure window") end
        return 0
    end

    local rate, total = n, n * (warm_s + dur_s)
    local t0 = b.now() + 20000000 -- 20 ms from now: the generator is running by then
    local warm_end = t0 + warm_s * 1000000000
    local stop = warm_end + dur_s * 1000000000
    local coll = process.spawn("app:collector", "app:processes", me, warm_end, stop)
    local gen = coll and process.spawn("app:generator", "app:processes", me, coll, rate, t0,
                                       total, target)
    if not gen then return fail("spawn failed") end
    local m, gerr = expect(inbox, "generator_done", tostring(warm_s + dur_s + 120) .. "s")
    if not m then return fail("%s", gerr) end
    local g = m:payload():data()
    if g.sent ~= total then return fail("generator sent %d of %d", g.sent, total) end
    process.send(coll, "expect", g.sent)
    local cm, cerr = expect(inbox, "collected", "120s")
    if not cm then return fail("%s", cerr) end
    local d = cm:payload():data()
    local missing = g.sent - d.replies
    table.move({ "rate=" .. rate, "duration_s=" .. dur_s, "warmup_s=" .. warm_s,
                 "requests=" .. g.sent,
                 "send_rate_per_s=" .. f3(g.sent / ((g.finished - t0) / 1e9)),
                 "echoes=" .. d.n, "echoes_per_s=" .. f3(d.n / dur_s),
                 "timeouts=" .. (missing + d.late), "missing=" .. missing }, 1, 9, #fields + 1, fields)
    b.latency_fields(fields, d.lats)
    if #d.svc > 0 then
        table.sort(d.svc)
        fields[#fields + 1] = "service_p50_us=" .. f3(pct(d.svc, 0.50))
        fields[#fields + 1] = "service_p99_us=" .. f3(pct(d.svc, 0.99))
    end
    io.print(table.concat(fields, " "))
    if d.bad ~= 0 then return fail("%d bad replies", d.bad) end
    if d.replies > g.sent then return fail("%d replies for %d requests", d.replies, g.sent) end
    if d.n == 0 then return fail("no echo in the measure window") end
    return 0
end

return { main = main }
