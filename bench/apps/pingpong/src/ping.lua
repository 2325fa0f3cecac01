-- Sends "ping" and waits for "pong", WARMUP times as a warm-up (default
-- 10000; dist_pingpong, like its peer, does 1000), then N timed times;
-- reports the time and the count to the parent.
local time = require("time")

local function rounds(inbox, pong, n)
    local got = 0
    for _ = 1, n do
        process.send(pong, "ping")
        local m = inbox:receive()
        if m:topic() ~= "pong" then error("ping: unexpected " .. m:topic()) end
        got = got + 1
    end
    return got
end

local function main(parent, pong, n, warmup)
    local inbox = process.inbox()
    rounds(inbox, pong, warmup or 10000)
    local t0 = time.now():unix_nano()
    local got = rounds(inbox, pong, n)
    local t1 = time.now():unix_nano()
    process.send(pong, "stop")
    process.send(parent, "pinged", { n = got, ns = t1 - t0 })
    return 0
end
return { main = main }
