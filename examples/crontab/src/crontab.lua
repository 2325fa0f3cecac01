-- A crontab-style scheduler: it discovers its jobs with registry.find (the
-- function.lua entries whose meta.type is "job"), orders them by
-- meta.order, and on every tick calls each due job (every meta.every
-- ticks) with funcs.call. A failing job is reported and tried again at its
-- next turn; the others go on. Arguments: the number of ticks (default 6)
-- and the tick interval (default 1s).
local function discover()
    local jobs = {}
    for _, e in ipairs(registry.find({ ["meta.type"] = "job", [".kind"] = "function.lua" })) do
        table.insert(jobs, e)
    end
    table.sort(jobs, function(a, b)
        if a.meta.order ~= b.meta.order then return a.meta.order < b.meta.order end
        return a.id < b.id
    end)
    return jobs
end

local function main()
    local args = io.args()
    local ticks = tonumber(args[1]) or 6
    local every = args[2] or "1s"
    local jobs = discover()
    io.print(string.format("%d jobs:", #jobs))
    for _, e in ipairs(jobs) do
        io.print(string.format("  %-24s every %d tick(s)", e.id, e.meta.every))
    end
    local ticker = time.ticker(every)
    for tick = 1, ticks do
        ticker:channel():receive()
        for _, e in ipairs(jobs) do
            if tick % e.meta.every == 0 then
                local v, err = funcs.call(e.id, tick)
                if err then
                    io.print(string.format("tick %d  %-24s failed: %s", tick, e.id, err:message()))
                else
                    io.print(string.format("tick %d  %-24s %s", tick, e.id, tostring(v)))
                end
            end
        end
    end
    ticker:stop()
    return 0
end

return { main = main }
