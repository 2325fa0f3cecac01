-- dist_echo RELAY C WARMUP_S MEASURE_S (node A): the closed-loop echo of
-- `echo` with the relay and its workers on node B, so every request
-- crosses the cluster twice (to the relay, and the worker's reply back).
-- RELAY is the relay's cluster name, "relay" (registered in the CONSISTENT
-- scope by node B's relay: the tutorial's shape, and the peer's
-- {relay, Node}), or its pid. C client processes here (bench/apps/echo's
-- client.lua sending to RELAY), warm-up and measure window as the peer
-- (../shared/peers/erlang/dist_bench.erl). Then the relay's counts from
-- node B. Asserted: every reply right, no timeout at all (warm-up
-- included), relay requests == requests sent, one EXIT per worker, none
-- failed. The RESULT line is printed before a failed assertion exits 1.
local io = require("io")

local f3, int_arg = b.f3, b.int_arg
local fail = b.failer("dist_echo")

local function main(relay, c, warm_s, meas_s)
    c, warm_s, meas_s = int_arg(c), int_arg(warm_s), int_arg(meas_s)
    if type(relay) ~= "string" or relay == "" or not (c and warm_s and meas_s)
        or c < 1 or warm_s < 0 or meas_s < 1 then
        io.eprint("usage: dist_echo RELAY C WARMUP_S MEASURE_S (RELAY a name or a pid; "
                  .. "integers; C, MEASURE_S >= 1)")
        return 2
    end
    local inbox = process.inbox()

    local t, cerr = b.closed_loop(inbox, c, warm_s, meas_s, relay)
    if not t then return fail("%s", cerr) end
    local st, serr = b.relay_stats(inbox, relay)
    if not st then return fail("%s", serr) end

    local fields = {
        "RESULT system=wippy scenario=dist_echo",
        "c=" .. c, "warmup_s=" .. warm_s, "measure_s=" .. meas_s,
        "echoes=" .. t.count, "echoes_per_s=" .. f3(t.count / meas_s), "timeouts=" .. t.tos,
    }
    b.latency_fields(fields, t.lats)
    fields[#fields + 1] = "relay_msgs=" .. st.msgs
    fields[#fields + 1] = "relay_downs=" .. st.downs
    fields[#fields + 1] = "relay_max_live_workers=" .. st.max_live
    fields[#fields + 1] = "requests=" .. t.sent
    fields[#fields + 1] = "replies=" .. t.replies
    io.print(table.concat(fields, " "))

    if t.bad ~= 0 then return fail("%d replies were not {data=HELLO WORLD, worker=pid}", t.bad) end
    if t.tos_all ~= 0 then return fail("%d requests timed out (2 s)", t.tos_all) end
    if st.msgs ~= t.sent then return fail("relay got %d requests, clients sent %d", st.msgs, t.sent) end
    if st.downs ~= st.msgs then return fail("relay: %d EXITs for %d workers", st.downs, st.msgs) end
    if st.failed ~= 0 then return fail("%d workers failed", st.failed) end
    return 0
end

return { main = main }
