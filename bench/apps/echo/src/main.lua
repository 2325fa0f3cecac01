-- echo C SLEEP_MS WARMUP_S MEASURE_S: the closed-loop echo benchmark.
-- Starts the relay and C client processes (all on app:processes), waits
-- until every client is ready, then sends them all "go" with the end of the
-- warm-up and of the measure window. Collects every client's latencies,
-- asks the relay for its counts once every worker's EXIT has arrived, checks
-- the counts and prints one RESULT line (bench/run adds max_rss_mb, workers,
-- commit and machine). Exit status 1 when a count does not match.
local io = require("io")

local f3, expect, int_arg = b.f3, b.expect, b.int_arg
local fail = b.failer("echo")

local function main(c, sleep_ms, warm_s, meas_s)
    c, sleep_ms, warm_s, meas_s = int_arg(c), int_arg(sleep_ms), int_arg(warm_s), int_arg(meas_s)
    if not (c and sleep_ms and warm_s and meas_s) or c < 1 or sleep_ms < 0 or warm_s < 0
        or meas_s < 1 then
        io.eprint("usage: echo C SLEEP_MS WARMUP_S MEASURE_S (integers; C, MEASURE_S >= 1)")
        return 2
    end
    local inbox = process.inbox()
    local me = process.pid()

    local relay, err = process.spawn("app:relay", "app:processes", me, sleep_ms)
    if not relay then return fail("relay spawn: %s", tostring(err)) end
    local _, e = expect(inbox, "relay_ready", "30s")
    if e then return fail("%s", e) end

    local t, cerr = b.closed_loop(inbox, c, warm_s, meas_s)
    if not t then return fail("%s", cerr) end
    local count, all, tos, sent, replies, bad = t.count, t.lats, t.tos, t.sent, t.replies, t.bad

    -- the relay's counts, once every worker's EXIT has arrived (no client
    -- sends any more; a timed-out request may still be in flight)
    local st, serr = b.relay_stats(inbox)
    if not st then return fail("%s", serr) end

    if bad ~= 0 then return fail("%d replies were not {data=HELLO WORLD, worker=pid}", bad) end
    if st.msgs ~= sent then return fail("relay got %d requests, clients sent %d", st.msgs, sent) end
    if st.downs ~= st.msgs then return fail("relay: %d EXITs for %d workers", st.downs, st.msgs) end
    if st.failed ~= 0 then return fail("%d workers failed", st.failed) end
    if count ~= #all then return fail("%d echoes, %d latencies", count, #all) end

    local fields = {
        "RESULT system=wippy scenario=echo",
        "c=" .. c, "sleep_ms=" .. sleep_ms, "warmup_s=" .. warm_s, "measure_s=" .. meas_s,
        "echoes=" .. count, "echoes_per_s=" .. f3(count / meas_s), "timeouts=" .. tos,
    }
    b.latency_fields(fields, all)
    fields[#fields + 1] = "relay_msgs=" .. st.msgs
    fields[#fields + 1] = "relay_downs=" .. st.downs
    fields[#fields + 1] = "relay_max_live_workers=" .. st.max_live
    fields[#fields + 1] = "requests=" .. sent
    fields[#fields + 1] = "replies=" .. replies
    io.print(table.concat(fields, " "))
    return 0
end

return { main = main }
