-- The open-loop collector: receives the replies of the generator's requests,
-- checks each ({data = "HELLO WORLD <due ns>:<sent ns>", worker = pid}) and
-- records the latency from the request's due time (and, as the service
-- latency, from its actual send time). Requests due inside
-- [warm_end, stop) are measured. After "expect N" (from the parent, once the
-- generator is done) it waits for the missing replies until 2 s after the
-- last request was due, then reports.
local time = require("time")

local PREFIX = "HELLO WORLD "

local function main(parent, warm_end, stop)
    local inbox = process.inbox()
    local lats, svc, n, replies, bad, late = {}, {}, 0, 0, 0, 0
    local expected, limit
    while true do
        local r
        if limit then
            r = channel.select { inbox:case_receive(), limit:case_receive() }
            if r.channel == limit then break end
        else
            r = { value = inbox:receive() }
        end
        local m = r.value
        local topic = m:topic()
        if topic == "echo_response" then
            local t2 = time.now():unix_nano()
            local body = m:payload():data()
            local at, sent_at
            if type(body) == "table" and type(body.data) == "string"
                and body.data:sub(1, #PREFIX) == PREFIX then
                local a, s = body.data:match("^(%d+):(%d+)$", #PREFIX + 1)
                at, sent_at = math.tointeger(tonumber(a)), math.tointeger(tonumber(s))
            end
            if not at or not sent_at or type(body.worker) ~= "string" then
                bad = bad + 1
            else
                replies = replies + 1
                local lat = t2 - at
                if lat > 2000000000 then late = late + 1 end
                if at >= warm_end and at < stop then
                    n = n + 1
                    lats[n] = lat
                    svc[n] = t2 - sent_at
                end
            end
        elseif topic == "expect" then
            expected = m:payload():data()
            local wait = stop + 2000000000 - time.now():unix_nano()
            limit = time.after(wait > 0 and wait or 1)
        end
        if expected and replies + bad >= expected then break end
    end
    process.send(parent, "collected", { n = n, lats = lats, svc = svc, replies = replies, bad = bad, late = late })
    return 0
end

return { main = main }
