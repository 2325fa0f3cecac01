-- sleepers N [SLEEP_MS]: N Lua processes each in time.sleep at the same
-- time, all until one deadline SLEEP_MS (default 5000) after the first spawn,
-- so N timers fire together. Asserts all N woke, none early. Reports how late
-- they woke after the deadline (p50/p99/max: the time to wake everyone),
-- how many started after the deadline (spawning took longer than SLEEP_MS),
-- and whether all N were asleep at once (the last one fell asleep before the
-- first one woke).
local io = require("io")
local time = require("time")

local function now() return time.now():unix_nano() end
local function f3(x) return string.format("%.3f", x) end
local function fail(fmt, ...)
    io.eprint("FAILED sleepers: " .. string.format(fmt, ...))
    return 1
end
local function pct(sorted, p)
    local n = #sorted
    local i = math.max(1, math.min(n, math.ceil(p * n)))
    return sorted[i] / 1000.0
end

local function main(n, sleep_ms)
    n, sleep_ms = math.tointeger(tonumber(n)), math.tointeger(tonumber(sleep_ms or "5000"))
    if not n or n < 1 or not sleep_ms or sleep_ms < 1 then
        io.eprint("usage: sleepers N [SLEEP_MS] (N, SLEEP_MS >= 1)")
        return 2
    end
    local inbox = process.inbox()
    local me = process.pid()
    local t0 = now()
    local deadline = t0 + sleep_ms * 1000000
    for i = 1, n do
        local pid, err = process.spawn("app:sleeper", "app:processes", me, deadline)
        if not pid then return fail("spawn %d: %s", i, tostring(err)) end
    end
    local t1 = now()
    local limit = time.after(tostring(sleep_ms // 1000 + 600) .. "s")
    local late, last_asleep, first_woke, early, after = {}, 0, math.maxinteger, 0, 0
    for i = 1, n do
        local r = channel.select { inbox:case_receive(), limit:case_receive() }
        if r.channel == limit then return fail("only %d of %d woke", i - 1, n) end
        if r.value:topic() ~= "woke" then return fail("unexpected %s", r.value:topic()) end
        local d = r.value:payload():data()
        if d[2] < deadline - 1000000 then early = early + 1 end -- 1 ms clock slack
        if d[1] >= deadline then after = after + 1 end
        late[i] = d[2] - deadline
        if d[1] > last_asleep then last_asleep = d[1] end
        if d[2] < first_woke then first_woke = d[2] end
    end
    local t2 = now()
    if #late ~= n then return fail("%d of %d woke", #late, n) end
    if early ~= 0 then return fail("%d woke early", early) end
    table.sort(late)
    io.print(table.concat({
        "RESULT system=wippy scenario=sleepers", "n=" .. n, "sleep_ms=" .. sleep_ms,
        "woken=" .. n, "started_after_deadline=" .. after,
        "all_asleep_at_once=" .. ((after == 0 and last_asleep < first_woke) and 1 or 0),
        "spawn_calls_per_s=" .. f3(n / ((t1 - t0) / 1e9)),
        "total_ms=" .. f3((t2 - t0) / 1e6),
        "late_p50_us=" .. f3(pct(late, 0.5)), "late_p99_us=" .. f3(pct(late, 0.99)),
        "late_max_us=" .. f3(pct(late, 1.0)),
    }, " "))
    return 0
end

return { main = main }
