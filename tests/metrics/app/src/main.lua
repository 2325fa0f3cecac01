-- The known workload of tests/metrics/metrics.sh (see _index.yaml).
local failures = {}

local function expect_ok(what, ok, err)
    if ok ~= true then table.insert(failures, what .. ": " .. tostring(err)) end
end

local function expect_err(what, kind, ok, err)
    if ok ~= nil or not err or err:kind() ~= kind then
        table.insert(failures, what .. ": want nil, " .. kind .. "; got " .. tostring(ok)
                     .. ", " .. tostring(err))
    end
end

local function main()
    local events = process.events()
    local pending = {}
    for _ = 1, 5 do pending[process.spawn_monitored("app:ok", "app:processes")] = true end
    for _ = 1, 2 do pending[process.spawn_monitored("app:bad", "app:processes")] = true end
    local idle = process.spawn_monitored("app:idle", "app:processes")
    pending[idle] = true
    process.terminate(idle)
    pending[process.spawn_monitored("app:chain", "app:processes")] = true
    pending[process.spawn_monitored("app:spin", "app:processes")] = true
    local left = 10
    while left > 0 do
        local ev = events:receive()
        if ev.kind == process.event.EXIT and pending[ev.from] then
            pending[ev.from] = nil
            left = left - 1
        end
    end

    -- known values
    for _ = 1, 3 do expect_ok("counter_inc", metrics.counter_inc("app_jobs_total", {queue = "a"})) end
    expect_ok("counter_inc b", metrics.counter_inc("app_jobs_total", {queue = "b"}))
    expect_ok("counter_add", metrics.counter_add("app_bytes_total", 2.5))
    expect_ok("counter_add 2", metrics.counter_add("app_bytes_total", 4))
    expect_ok("gauge_set", metrics.gauge_set("app_temperature", 42.5, {room = "x", floor = 3}))
    expect_ok("gauge_inc", metrics.gauge_inc("app_inflight"))
    expect_ok("gauge_inc 2", metrics.gauge_inc("app_inflight"))
    expect_ok("gauge_dec", metrics.gauge_dec("app_inflight"))
    expect_ok("histogram", metrics.histogram("app_latency_seconds", 0.3))
    expect_ok("histogram 2", metrics.histogram("app_latency_seconds", 2))
    expect_ok("escaped label", metrics.counter_inc("app_quoted_total", {v = 'a"b\\c\nd'}))

    -- the error rows
    expect_err("a name with a space", "Invalid", metrics.counter_inc("bad name"))
    expect_err("a name starting with a digit", "Invalid", metrics.counter_inc("9lives"))
    expect_err("an empty name", "Invalid", metrics.counter_inc(""))
    expect_err("a name that is not a string", "Invalid", metrics.counter_inc(12))
    expect_err("a runtime name", "Invalid", metrics.counter_inc("wippy_mine"))
    expect_err("a label with a dash", "Invalid", metrics.counter_inc("x_total", {["a-b"] = "1"}))
    expect_err("a reserved label", "Invalid", metrics.counter_inc("x_total", {__x = "1"}))
    expect_err("le on a metric", "Invalid", metrics.counter_inc("x_total", {le = "1"}))
    expect_err("labels not a table", "Invalid", metrics.counter_inc("x_total", "a"))
    expect_err("a table label value", "Invalid", metrics.counter_inc("x_total", {a = {}}))
    expect_err("a negative counter_add", "Invalid", metrics.counter_add("x_total", -1))
    expect_err("a value not a number", "Invalid", metrics.histogram("h", "1"))
    expect_err("a NaN", "Invalid", metrics.gauge_set("g", 0 / 0))
    expect_err("an infinite value", "Invalid", metrics.gauge_set("g", math.huge))
    expect_err("another type", "Internal", metrics.gauge_set("app_jobs_total", 1, {queue = "a"}))

    -- messages and timers
    for i = 1, 4 do expect_ok("send to self", process.send(process.pid(), "self", i)) end
    local inbox = process.inbox()
    for _ = 1, 4 do inbox:receive() end
    local held = time.after("1h") -- armed while main lives
    process.spawn("app:stubborn", "app:processes")

    if #failures == 0 then
        print("metrics module ok")
    else
        for _, f in ipairs(failures) do print("metrics module FAIL: " .. f) end
    end
    print("workload ready")
    inbox:receive()
    return held and 0
end

return { main = main }
