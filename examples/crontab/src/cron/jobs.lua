-- jobs.lua: the crontab's job functions; each gets the tick number.
local function rotate(tick) return "rotated " .. tick end

-- Reads its settings through the registry, from its own process.
local function report(tick)
    local s, err = registry.get("app.cron:settings")
    if not s then return nil, err end
    return string.format("report %d to %d recipients", tick, #s.data.recipients)
end

local function flaky(tick)
    if tick % 2 == 1 then return nil, errors.new({ message = "disk busy", kind = errors.UNAVAILABLE }) end
    return "flaky ok " .. tick
end

local function helper() error("a helper is not a job") end

return { rotate = rotate, report = report, flaky = flaky, helper = helper }
