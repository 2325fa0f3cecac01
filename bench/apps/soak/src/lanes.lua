-- The soak's four lanes, one process each (app:lane_echo, ...), each running
-- rounds of one bench app's workload until the deadline (Unix ns), checking
-- every round's counts, then reporting "lane" {name, rounds, ops, ...} to the
-- parent. A count that does not match raises: the lane ends with an error,
-- which the parent sees in its EXIT. The processes they start are the bench
-- apps' own (linked files: the chaos run's client and, through it,
-- examples/echo-service's relay and worker; spawn's child and trivial;
-- sleepers' sleeper; pingpong's ping and pong).
local time = require("time")

local now = b.now

local function check(ok, fmt, ...)
    if not ok then error(string.format(fmt, ...), 2) end
end

-- n messages with `topic` on the inbox, bounded by `limit`; returns their
-- payloads' data
local function gather(inbox, n, topic, limit)
    local got = {}
    local give_up = time.after(limit)
    for i = 1, n do
        local r = channel.select { inbox:case_receive(), give_up:case_receive() }
        check(r.channel ~= give_up, "only %d of %d %s within %s", i - 1, n, topic, limit)
        check(r.value:topic() == topic, "expected %s, got %s", topic, r.value:topic())
        local p = r.value:payload() -- none for spawn's "x"
        got[i] = p and p:data()
    end
    return got
end

-- the next event, which must be the normal EXIT of `pid`
local function await_exit(events, pid)
    local give_up = time.after("60s")
    local r = channel.select { events:case_receive(), give_up:case_receive() }
    check(r.channel ~= give_up, "no EXIT from %s within 60 s", pid)
    local ev = r.value
    check(ev.kind == process.event.EXIT and ev.from == pid, "expected the EXIT of %s, got %s from %s",
          pid, tostring(ev.kind), tostring(ev.from))
    check(not (ev.result and ev.result.error), "%s failed: %s", pid, tostring(ev.result and ev.result.error))
end

local function report(parent, name, rounds, ops, extra)
    local r = extra or {}
    r.name, r.rounds, r.ops = name, rounds, ops
    process.send(parent, "lane", r)
    return 0
end

-- echo: the echo service of examples/echo-service (its relay and worker;
-- the relay a plain process here) driven by the chaos run's clients
-- (apps/chaos) in rounds, with no kills: per round C fresh clients send 20
-- requests each, one in a hundred making its worker raise (each worker
-- sleeps 100 ms: a timer). Every request must end in a reply or a failure
-- report (none by a relay EXIT), with no client timeout (a 30 s bound).
-- ops = requests.
local function echo(parent, deadline, c)
    local inbox = process.inbox()
    local events = process.events()
    local relay = process.spawn_monitored("app:relay", "app:processes")
    check(relay, "relay spawn failed")
    local give_up = now() + 30000000000
    while not process.registry.lookup("relay") do
        check(now() < give_up, "the relay never registered")
        time.sleep("5ms")
    end
    local rounds, ops, failures = 0, 0, 0
    while now() < deadline do
        local clients, err = cl.start(inbox, c, "60s")
        check(clients, "%s", err)
        local t
        t, err = cl.round(inbox, events, clients, 20, 1, "120s")
        check(t, "%s", err)
        err = cl.check(t, 20 * c)
        check(not err, "%s", err)
        check(t.exit_events == 0, "%d relay EXITs with no kills", t.exit_events)
        err = cl.stop(events, clients, "60s")
        check(not err, "%s", err)
        rounds, ops, failures = rounds + 1, ops + t.sent, failures + t.failures
    end
    process.cancel(relay) -- it returns on CANCEL
    await_exit(events, relay)
    return report(parent, "echo", rounds, ops, { failures = failures })
end

-- spawn: per round K fire-and-forget children, each telling the lane it ran,
-- then K/5 sequential spawn_monitored + EXIT round trips (apps/spawn).
-- ops = processes spawned.
local function spawn(parent, deadline, k)
    local inbox = process.inbox()
    local events = process.events()
    local me = process.pid()
    local rounds, ops = 0, 0
    while now() < deadline do
        for _ = 1, k do check(process.spawn("app:child", "app:processes", me), "spawn failed") end
        gather(inbox, k, "x", "60s")
        for _ = 1, k // 5 do
            local pid = process.spawn_monitored("app:trivial", "app:processes")
            check(pid, "spawn_monitored failed")
            await_exit(events, pid)
        end
        rounds, ops = rounds + 1, ops + k + k // 5
    end
    return report(parent, "spawn", rounds, ops)
end

-- timers: per round K sleepers (apps/sleepers) until one deadline 5-100 ms
-- away, none woken early; meanwhile a 2 ms ticker is read, and K timers of
-- 10 s are armed and dropped (their channels become garbage: they must not
-- pile up). ops = sleepers woken.
local function timers(parent, deadline, k)
    local inbox = process.inbox()
    local me = process.pid()
    local rounds, ops, ticks = 0, 0, 0
    while now() < deadline do
        for _ = 1, k do time.after("10s") end
        local due = now() + math.random(5, 100) * 1000000
        for _ = 1, k do check(process.spawn("app:sleeper", "app:processes", me, due), "spawn failed") end
        local ticker = time.ticker("2ms")
        local tch = ticker:channel()
        local give_up = time.after("60s")
        local woke = 0
        while woke < k do
            local r = channel.select { inbox:case_receive(), tch:case_receive(), give_up:case_receive() }
            check(r.channel ~= give_up, "only %d of %d sleepers woke within 60 s", woke, k)
            if r.channel == tch then
                ticks = ticks + 1
            else
                check(r.value:topic() == "woke", "expected woke, got %s", r.value:topic())
                local d = r.value:payload():data()
                check(d[2] >= due - 1000000, "a sleeper woke %d us early", (due - d[2]) // 1000)
                woke = woke + 1
            end
        end
        ticker:stop()
        rounds, ops = rounds + 1, ops + k
    end
    return report(parent, "timers", rounds, ops, { ticks = ticks })
end

-- pingpong: per round a fresh pair (apps/pingpong) doing 10,000 warm-up and
-- N counted round trips. ops = counted round trips.
local function pingpong(parent, deadline, n)
    local inbox = process.inbox()
    local events = process.events()
    local me = process.pid()
    local rounds, ops = 0, 0
    while now() < deadline do
        local pong = process.spawn("app:pong", "app:processes")
        local ping = pong and process.spawn_monitored("app:ping", "app:processes", me, pong, n)
        check(ping, "spawn failed")
        local d = gather(inbox, 1, "pinged", "120s")[1]
        check(d.n == n, "%d of %d round trips", d.n, n)
        await_exit(events, ping)
        rounds, ops = rounds + 1, ops + n
    end
    return report(parent, "pingpong", rounds, ops)
end

return { echo = echo, spawn = spawn, timers = timers, pingpong = pingpong }
