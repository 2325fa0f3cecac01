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
function M.relay_stats(inbox)
    process.send("relay", "stats")
    local m, err = M.expect(inbox, "relay_stats", "60s")
    if not m then return nil, err .. " (the relay's EXITs never caught up)" end
    return m:payload():data()
end

return M
