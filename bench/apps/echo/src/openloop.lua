-- openloop RATE DURATION_S [WARMUP_S]: the echo workload driven at a fixed
-- request rate (open loop), to find the latency knee. One generator process
-- sends RATE requests per second for WARMUP_S + DURATION_S seconds through
-- the same relay and workers as `echo`; one collector process receives the
-- replies. Latency is measured from each request's due time; requests due in
-- the last DURATION_S seconds are measured. p50_us/p99_us/... count from the
-- due time (so a late generator wake-up counts, timer ticks are 1 ms);
-- service_p50_us/service_p99_us from the actual send. A reply later than 2 s, or
-- missing 2 s after the last request was due, counts as a timeout.
local io = require("io")
local time = require("time")

local now, f3, pct, expect, int_arg = b.now, b.f3, b.pct, b.expect, b.int_arg
local fail = b.failer("openloop")

local function main(rate, dur_s, warm_s)
    rate, dur_s, warm_s = int_arg(rate), int_arg(dur_s), int_arg(warm_s or "1")
    if not (rate and dur_s and warm_s) or rate < 1 or dur_s < 1 or warm_s < 0 then
        io.eprint("usage: openloop RATE DURATION_S [WARMUP_S] (integers; RATE, DURATION_S >= 1)")
        return 2
    end
    local inbox = process.inbox()
    local me = process.pid()

    local relay, err = process.spawn("app:relay", "app:processes", me, 0)
    if not relay then return fail("relay spawn: %s", tostring(err)) end
    local _, e = expect(inbox, "relay_ready", "30s")
    if e then return fail("%s", e) end

    local total = rate * (warm_s + dur_s)
    local t0 = now() + 20000000 -- 20 ms from now: the generator is running by then
    local warm_end = t0 + warm_s * 1000000000
    local stop = warm_end + dur_s * 1000000000
    local coll = process.spawn("app:collector", "app:processes", me, warm_end, stop)
    local gen = process.spawn("app:generator", "app:processes", me, coll, rate, t0, total)
    if not coll or not gen then return fail("spawn failed") end

    local m, gerr = expect(inbox, "generator_done", tostring(warm_s + dur_s + 120) .. "s")
    if not m then return fail("%s", gerr) end
    local g = m:payload():data()
    if g.sent ~= total then return fail("generator sent %d of %d", g.sent, total) end
    process.send(coll, "expect", g.sent)
    local cm, cerr = expect(inbox, "collected", "120s")
    if not cm then return fail("%s", cerr) end
    local d = cm:payload():data()

    local st, serr = b.relay_stats(inbox)
    if not st then return fail("%s", serr) end

    if d.bad ~= 0 then return fail("%d bad replies", d.bad) end
    if st.msgs ~= g.sent then return fail("relay got %d requests, generator sent %d", st.msgs, g.sent) end
    if st.downs ~= st.msgs then return fail("relay: %d EXITs for %d workers", st.downs, st.msgs) end
    if st.failed ~= 0 then return fail("%d workers failed", st.failed) end
    if d.replies > g.sent then return fail("%d replies for %d requests", d.replies, g.sent) end

    local lats, svc = d.lats, d.svc
    table.sort(lats)
    table.sort(svc)
    local missing = g.sent - d.replies
    local fields = {
        "RESULT system=wippy scenario=openloop",
        "rate=" .. rate, "duration_s=" .. dur_s, "warmup_s=" .. warm_s,
        "requests=" .. g.sent,
        "send_rate_per_s=" .. f3(g.sent / ((g.finished - t0) / 1e9)),
        "echoes=" .. d.n, "echoes_per_s=" .. f3(d.n / dur_s),
        "timeouts=" .. (missing + d.late), "missing=" .. missing,
    }
    if #lats > 0 then
        fields[#fields + 1] = "p50_us=" .. f3(pct(lats, 0.50))
        fields[#fields + 1] = "p99_us=" .. f3(pct(lats, 0.99))
        fields[#fields + 1] = "p999_us=" .. f3(pct(lats, 0.999))
        fields[#fields + 1] = "max_us=" .. f3(pct(lats, 1.0))
        fields[#fields + 1] = "service_p50_us=" .. f3(pct(svc, 0.50))
        fields[#fields + 1] = "service_p99_us=" .. f3(pct(svc, 0.99))
    end
    fields[#fields + 1] = "relay_msgs=" .. st.msgs
    fields[#fields + 1] = "relay_downs=" .. st.downs
    fields[#fields + 1] = "relay_max_live_workers=" .. st.max_live
    io.print(table.concat(fields, " "))
    return 0
end

return { main = main }
