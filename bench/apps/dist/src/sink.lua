-- dist_oneway's receiver on node B: after "go" from the driver, takes N
-- messages "m" whose payloads must be 1, 2, ..., N in that order, then
-- answers the driver "sink_done" with the count and the first break in the
-- order (false when none). "count" (the driver gave up waiting) is answered
-- with "sink_count" and the same.
local function main(n)
    local inbox = process.inbox()
    local go = inbox:receive()
    if go:topic() ~= "go" then error("sink: expected go, got " .. go:topic()) end
    local driver = go:from()
    local got, bad = 0, false
    while got < n do
        local m = inbox:receive()
        local topic = m:topic()
        if topic == "m" then
            got = got + 1
            if not bad then
                local k = m:payload():data()
                if k ~= got then bad = "message " .. tostring(k) .. " arrived as number " .. got end
            end
        elseif topic == "count" then
            process.send(m:from(), "sink_count", { n = got, bad = bad })
        end
    end
    process.send(driver, "sink_done", { n = got, bad = bad })
    return 0
end

return { main = main }
