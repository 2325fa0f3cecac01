-- A closed-loop client: request -> wait for the reply (2 s timeout),
-- latency recorded per request. One timer per client, re-armed for each
-- request with timer:reset (as Erlang's receive..after arms one per
-- receive); after a timeout it has fired and its channel is closed, so the
-- client takes a new one. A completion is counted (and its latency kept)
-- when it ends inside [warm_end, stop); timeouts are counted after
-- warm_end; the client ends at its first completion after `stop` and
-- reports to the parent. `relay`: where requests go, a name or a pid
-- (default: the name "relay"; dist_echo passes the pid of a relay on
-- another node).
local time = require("time")

local DATA, WANT = "hello world", "HELLO WORLD"
local TIMEOUT = 2000000000 -- 2 s, in ns

local function main(parent, relay)
    relay = relay or "relay"
    local inbox = process.inbox()
    local me = process.pid()
    process.send(parent, "ready")
    local go = inbox:receive()
    if go:topic() ~= "go" then error("client: expected go, got " .. go:topic()) end
    local g = go:payload():data()
    local warm_end, stop = g.warm_end, g.stop

    local n, lats, tos, tos_all, sent, replies, bad = 0, {}, 0, 0, 0, 0, 0
    local timer = time.timer(TIMEOUT)
    local tch = timer:channel()
    while true do
        local t1 = time.now():unix_nano()
        process.send(relay, "echo", { sender = me, data = DATA })
        sent = sent + 1
        timer:reset(TIMEOUT)
        local r = channel.select { inbox:case_receive(), tch:case_receive() }
        local t2 = time.now():unix_nano()
        if r.channel == inbox then
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
            timer = time.timer(TIMEOUT)
            tch = timer:channel()
            tos_all = tos_all + 1
            if t2 >= warm_end then tos = tos + 1 end
            if t2 >= stop then break end
        end
    end
    timer:stop()
    process.send(parent, "done",
                 { n = n, lats = lats, tos = tos, tos_all = tos_all, sent = sent,
                   replies = replies, bad = bad })
    return 0
end

return { main = main }
