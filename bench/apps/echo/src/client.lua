-- A closed-loop client: request -> wait for the reply (2 s timeout, the
-- timer is stopped when the reply comes first, as Erlang's receive..after
-- does), latency recorded per request. A completion is counted (and its
-- latency kept) when it ends inside [warm_end, stop); timeouts are counted
-- after warm_end; the client ends at its first completion after `stop` and
-- reports to the parent.
local time = require("time")

local DATA, WANT = "hello world", "HELLO WORLD"

local function main(parent)
    local inbox = process.inbox()
    local me = process.pid()
    process.send(parent, "ready")
    local go = inbox:receive()
    if go:topic() ~= "go" then error("client: expected go, got " .. go:topic()) end
    local g = go:payload():data()
    local warm_end, stop = g.warm_end, g.stop

    local n, lats, tos, tos_all, sent, replies, bad = 0, {}, 0, 0, 0, 0, 0
    while true do
        local t1 = time.now():unix_nano()
        process.send("relay", "echo", { sender = me, data = DATA })
        sent = sent + 1
        local timer = time.timer("2s")
        local tch = timer:channel()
        local r = channel.select { inbox:case_receive(), tch:case_receive() }
        local t2 = time.now():unix_nano()
        if r.channel == inbox then
            timer:stop()
            local m = r.value
            local body = m:payload():data()
            if m:topic() ~= "echo_response" or type(body) ~= "table" or body.data ~= WANT
                or type(body.worker) ~= "string" then
                bad = bad + 1
            end
            replies = replies + 1
            if t2 >= stop then break end
            if t2 >= warm_end then
                n = n + 1
                lats[n] = t2 - t1
            end
        else
            tos_all = tos_all + 1
            if t2 >= warm_end then tos = tos + 1 end
            if t2 >= stop then break end
        end
    end
    process.send(parent, "done",
                 { n = n, lats = lats, tos = tos, tos_all = tos_all, sent = sent,
                   replies = replies, bad = bad })
    return 0
end

return { main = main }
