-- The open-loop generator: sends echo requests to the relay at a fixed rate,
-- whatever the replies do. Request k is due at t0 + k / rate; every wake-up
-- sends all requests due by then (so a late wake-up sends a burst, and the
-- rate holds on average). The request's data carries its due time
-- and its actual send time ("hello world <due ns>:<sent ns>"); the worker
-- upper-cases it like any data, and the collector, named as the sender,
-- reads both back from the reply.
-- Latency is measured from the due time, so a generator that falls behind
-- shows up as latency (no coordinated omission). `relay`: a name or a pid
-- (default: the name "relay").
local time = require("time")

local function main(parent, collector, rate, t0, total, relay)
    relay = relay or "relay"
    local sent = 0
    local per = 1e9 / rate
    while sent < total do
        local now = time.now():unix_nano()
        local due = math.min(total, math.floor((now - t0) / per) + 1)
        while sent < due do
            local at = t0 + math.floor(sent * per)
            process.send(relay, "echo", { sender = collector,
                                          data = "hello world " .. at .. ":" .. time.now():unix_nano() })
            sent = sent + 1
        end
        if sent < total then
            local next_at = t0 + math.floor(sent * per)
            local wait = next_at - time.now():unix_nano()
            if wait > 0 then time.sleep(wait) else time.sleep(0) end
        end
    end
    process.send(parent, "generator_done", { sent = sent, finished = time.now():unix_nano() })
    return 0
end

return { main = main }
