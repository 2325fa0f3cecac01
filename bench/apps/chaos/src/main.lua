-- chaos N C [KILL_MIN_MS KILL_MAX_MS [FAIL_PCT]]: N echo requests from C
-- client processes through the echo service of examples/echo-service (its
-- relay.lua and worker.lua, run as the supervised app:relay-service), with
-- FAIL_PCT % (default 1) of the requests making their worker raise and the
-- relay terminated every KILL_MIN_MS..KILL_MAX_MS (default 2000..3000) by
-- app:killer. Every request must end exactly once: a reply, a worker-failure
-- report from the relay, or the EXIT of the relay it was sent to (client.lua).
--
-- Phases: the clients come up and do a warm-up round of WARM requests each
-- with no kills; "SYNC baseline" (bench/run reads VmRSS); the load round
-- (N requests split over the clients, the killer running); "SYNC loaded";
-- the killer and the clients stop; "SYNC idle settle" (bench/run polls
-- VmRSS until it settles, the runtime idle meanwhile); then the RESULT line.
-- Each SYNC waits for a line on stdin.
--
-- Asserted (exit status 1 otherwise): the clients sent N requests; replies +
-- worker failures + relay-EXIT endings == N; no client timed out; nothing
-- unexpected arrived (a reply to a crash request, a failure report for
-- another, an answer to no outstanding request, a spawn error); the warm-up
-- saw no relay EXIT; the relay was killed at least once; every client ended
-- normally.
local io = require("io")
local time = require("time")

local now, f3, int_arg = b.now, b.f3, b.int_arg
local fail = b.failer("chaos")

local WARM = 3 -- warm-up requests per client

local function sync(what)
    io.print("SYNC " .. what)
    return io.readline() ~= nil
end

-- Waits for the relay's name (the service starts it at boot).
local function await_relay(limit_ns)
    local give_up = now() + limit_ns
    while not process.registry.lookup("relay") do
        if now() > give_up then return false end
        time.sleep("5ms")
    end
    return true
end

local function main(n, c, kmin, kmax, fail_pct)
    n, c = int_arg(n), int_arg(c)
    kmin, kmax = int_arg(kmin or "2000"), int_arg(kmax or "3000")
    fail_pct = tonumber(fail_pct or "1")
    if not (n and c and kmin and kmax and fail_pct) or c < 1 or n < c or kmin < 1 or kmax < kmin
        or fail_pct < 0 or fail_pct > 100 then
        io.eprint("usage: chaos N C [KILL_MIN_MS KILL_MAX_MS [FAIL_PCT]] "
                  .. "(integers but FAIL_PCT; N >= C >= 1, 1 <= KILL_MIN_MS <= KILL_MAX_MS)")
        return 2
    end
    local inbox = process.inbox()
    local events = process.events()
    local me = process.pid()
    if not await_relay(30000000000) then return fail("the relay service never registered \"relay\"") end

    local clients, err = cl.start(inbox, c, "300s")
    if not clients then return fail("%s", err) end

    -- warm-up: no kills
    local w
    w, err = cl.round(inbox, events, clients, WARM, fail_pct, "300s")
    if not w then return fail("warm-up: %s", err) end
    err = cl.check(w, WARM * c)
    if err then return fail("warm-up: %s", err) end
    if w.exit_events ~= 0 then return fail("warm-up: %d relay EXITs with no kills", w.exit_events) end
    if not sync("baseline") then return fail("no answer from bench/run") end

    -- the load, with the killer
    local killer = process.spawn("app:killer", "app:processes", me, kmin, kmax)
    if not killer then return fail("killer spawn failed") end
    local quotas = {}
    for i = 1, c do quotas[i] = n // c + (i <= n % c and 1 or 0) end
    local t0 = now()
    local t
    t, err = cl.round(inbox, events, clients, quotas, fail_pct, "3600s")
    local t1 = now()
    if not t then return fail("%s", err) end
    if not sync("loaded") then return fail("no answer from bench/run") end

    process.send(killer, "stop")
    local km, kerr = b.expect(inbox, "killed", "30s")
    if not km then return fail("killer: %s", kerr) end
    local k = km:payload():data()

    err = cl.stop(events, clients, "60s")
    if err then return fail("%s", err) end
    clients = nil
    if not sync("idle settle") then return fail("no answer from bench/run") end

    err = cl.check(t, n)
    if err then return fail("%s", err) end
    if k.kills < 1 then return fail("the relay was never killed (the load took %s s)", f3((t1 - t0) / 1e9)) end

    local secs = (t1 - t0) / 1e9
    io.print(table.concat({
        "RESULT system=wippy scenario=chaos",
        "n=" .. n, "c=" .. c, "kill_min_ms=" .. kmin, "kill_max_ms=" .. kmax, "fail_pct=" .. fail_pct,
        "requests=" .. t.sent, "replies=" .. t.replies, "worker_failures=" .. t.failures,
        "relay_exit_ended=" .. t.exit_ended, "timeouts=" .. t.timeouts,
        "crash_requests=" .. t.crash_sent, "relay_kills=" .. k.kills, "kill_misses=" .. k.misses,
        "relay_exit_events=" .. t.exit_events, "relay_lookups_ok=" .. t.relays,
        "late_answers=" .. t.late, "send_failures=" .. t.send_failures,
        "load_s=" .. f3(secs), "requests_per_s=" .. f3(t.sent / secs),
        "max_request_ms=" .. f3(t.max_end_ns / 1e6), "max_relay_down_ms=" .. f3(t.max_down_ns / 1e6),
    }, " "))
    return 0
end

return { main = main }
