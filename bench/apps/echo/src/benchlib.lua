-- benchlib.lua: what the echo benchmarks' drivers (main.lua, openloop.lua)
-- share, a library they import as `b`.
local io = require("io")
local time = require("time")

local M = {}

function M.now() return time.now():unix_nano() end

-- fail(fmt, ...) for scenario `name`: prints "FAILED name: ..." and
-- returns the exit status 1
function M.failer(name)
    return function(fmt, ...)
        io.eprint("FAILED " .. name .. ": " .. string.format(fmt, ...))
        return 1
    end
end

function M.f3(x) return string.format("%.3f", x) end

-- the peer's percentile: element max(1, min(N, ceil(p*N))) of the sorted list
function M.pct(sorted, p)
    local n = #sorted
    local i = math.max(1, math.min(n, math.ceil(p * n)))
    return sorted[i] / 1000.0
end

-- next inbox message, which must have `topic`, bounded by `limit`
function M.expect(inbox, topic, limit)
    local deadline = time.after(limit)
    local r = channel.select { inbox:case_receive(), deadline:case_receive() }
    if r.channel == deadline then return nil, "timed out waiting for " .. topic end
    if r.value:topic() ~= topic then
        return nil, "expected " .. topic .. ", got " .. r.value:topic()
    end
    return r.value
end

function M.int_arg(v) return math.tointeger(tonumber(v)) end

-- The relay's counts, which it sends once every worker's EXIT has arrived
-- (a timed-out request may still be in flight when the clients are done).
-- `relay`: its name or pid (default "relay").
function M.relay_stats(inbox, relay)
    local ok, serr = process.send(relay or "relay", "stats")
    if not ok then return nil, "cannot ask the relay for its counts: " .. tostring(serr) end
    local m, err = M.expect(inbox, "relay_stats", "60s")
    if not m then return nil, err .. " (the relay's EXITs never caught up)" end
    return m:payload():data()
end

-- The closed loop of `echo`, `dist_echo` and `load`: spawns c app:client
-- processes on app:processes sending to `relay` (a name or a pid; nil: the
-- name "relay"), waits until every one is ready (our spawn builds a
-- process's state when it first runs: this keeps that out of the window),
-- sends them all "go" with the end of the warm-up and of the measure
-- window, and collects every report in any order. Checks each report (as
-- many latencies as echoes; replies + timeouts == requests). Returns
-- {count, lats (unsorted), tos, tos_all, sent, replies, bad}, or nil and
-- why.
function M.closed_loop(inbox, c, warm_s, meas_s, relay)
    local me = process.pid()
    local clients = {}
    for i = 1, c do
        local pid, serr = process.spawn("app:client", "app:processes", me, relay)
        if not pid then return nil, string.format("client %d spawn: %s", i, tostring(serr)) end
        clients[i] = pid
    end
    local limit = time.after("300s")
    for i = 1, c do
        local r = channel.select { inbox:case_receive(), limit:case_receive() }
        if r.channel == limit then return nil, string.format("only %d of %d clients ready", i - 1, c) end
        if r.value:topic() ~= "ready" then return nil, "unexpected " .. r.value:topic() end
    end

    -- all clients start together
    local t0 = M.now()
    local warm_end = t0 + warm_s * 1000000000
    local stop = warm_end + meas_s * 1000000000
    local go = { warm_end = warm_end, stop = stop }
    for i = 1, c do process.send(clients[i], "go", go) end
    clients = nil

    -- any-order collection of the reports
    local t = { count = 0, lats = {}, tos = 0, tos_all = 0, sent = 0, replies = 0, bad = 0 }
    limit = time.after(tostring(warm_s + meas_s + 120) .. "s")
    for i = 1, c do
        local r = channel.select { inbox:case_receive(), limit:case_receive() }
        if r.channel == limit then return nil, string.format("only %d of %d clients reported", i - 1, c) end
        if r.value:topic() ~= "done" then return nil, "unexpected " .. r.value:topic() end
        local d = r.value:payload():data()
        if #d.lats ~= d.n then
            return nil, string.format("client reported %d latencies for %d echoes", #d.lats, d.n)
        end
        if d.replies + d.tos_all ~= d.sent then
            return nil, string.format("client: %d sent, %d replies + %d timeouts", d.sent,
                                      d.replies, d.tos_all)
        end
        table.move(d.lats, 1, d.n, t.count + 1, t.lats)
        t.count = t.count + d.n
        t.tos, t.tos_all = t.tos + d.tos, t.tos_all + d.tos_all
        t.sent, t.replies, t.bad = t.sent + d.sent, t.replies + d.replies, t.bad + d.bad
    end
    return t
end

-- Appends p50_us, p99_us, p999_us and max_us of the latencies (ns) in
-- `lats` to `fields` (none when there are none); sorts `lats`.
function M.latency_fields(fields, lats)
    if #lats == 0 then return end
    table.sort(lats)
    fields[#fields + 1] = "p50_us=" .. M.f3(M.pct(lats, 0.50))
    fields[#fields + 1] = "p99_us=" .. M.f3(M.pct(lats, 0.99))
    fields[#fields + 1] = "p999_us=" .. M.f3(M.pct(lats, 0.999))
    fields[#fields + 1] = "max_us=" .. M.f3(M.pct(lats, 1.0))
end

return M
