-- registry_crontab: the crontab-style app of issue 15. The scheduler knows
-- no job by name: it discovers the function.lua entries whose meta.type is
-- "job" with registry.find, orders them by meta.order, and on every tick
-- calls each job that is due (meta.every ticks) with funcs.call(id, tick).
-- A failing job is reported and retried next time; the others go on.
local test, check, eq, same = t.test, t.check, t.eq, t.same

local TICKS = 4

local function discover()
    local jobs = {}
    for _, e in ipairs(registry.find({ ["meta.type"] = "job" })) do
        if e.kind == "function.lua" then table.insert(jobs, e) end
    end
    table.sort(jobs, function(a, b)
        if a.meta.order ~= b.meta.order then return a.meta.order < b.meta.order end
        return a.id < b.id
    end)
    return jobs
end

local function main()
    local jobs

    test("discover the jobs through the registry", function()
        jobs = discover()
        local ids = {}
        for i, e in ipairs(jobs) do ids[i] = e.id end
        same(ids, { "app.cron:rotate_logs", "app.cron:send_report", "app.cron:flaky" }, "jobs, by meta.order")
        -- the same set through the criteria alone
        eq(#registry.find({ ["meta.type"] = "job", [".kind"] = "function.lua" }), 3, ".kind + meta.type")
        eq(#registry.find({ ["meta.type"] = "job", [".ns"] = "app.cron" }), 3, ".ns + meta.type")
    end)

    test("run every due job on each tick with funcs.call", function()
        local log = {}
        local ticker = time.ticker("10ms")
        for tick = 1, TICKS do
            local _, ok = t.recv(ticker:channel())
            eq(ok, true, "tick " .. tick)
            for _, e in ipairs(jobs) do
                if tick % e.meta.every == 0 then
                    local v, err = funcs.call(e.id, tick)
                    if err then
                        table.insert(log, string.format("%d %s failed: %s", tick, e.id, err:message()))
                    else
                        table.insert(log, string.format("%d %s: %s", tick, e.id, v))
                    end
                end
            end
        end
        ticker:stop()
        same(log, {
            "1 app.cron:rotate_logs: rotated 1",
            "1 app.cron:flaky failed: disk busy",
            "2 app.cron:rotate_logs: rotated 2",
            "2 app.cron:send_report: report 2 to 2 recipients",
            "2 app.cron:flaky: flaky ok 2",
            "3 app.cron:rotate_logs: rotated 3",
            "3 app.cron:flaky failed: disk busy",
            "4 app.cron:rotate_logs: rotated 4",
            "4 app.cron:send_report: report 4 to 2 recipients",
            "4 app.cron:flaky: flaky ok 4",
        }, "run log")
    end)

    test("a failing job's error keeps its kind", function()
        local _, err = funcs.call("app.cron:flaky", 1)
        t.errkind(err, errors.UNAVAILABLE, "disk busy", "flaky")
    end)

    return t.finish()
end

return { main = main }
