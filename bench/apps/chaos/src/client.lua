-- A chaos client: the echo service's CLI protocol (examples/echo-service
-- cli.lua) as a closed loop. It monitors the relay it sends to and sends to
-- that pid; each request carries an id, and 1 in 100 (FAIL_PCT) carries the
-- data "crash", which makes its worker raise.
--
-- Every request ends exactly once, in the first of:
--   reply       an "echo_response" with its id (never for a "crash" request)
--   failure     an "echo_error" with its id and a worker pid: the relay saw
--               the worker fail (only for a "crash" request)
--   relay EXIT  the EXIT of the relay it was sent to: every request still
--               outstanding on that relay ends here; the client looks the
--               relay up again (polling while the service restarts it)
-- A reply or failure report that arrives for a request already ended by a
-- relay EXIT is counted as `late` (its worker outlived the relay). Anything
-- else is `bad`. A request or a relay look-up that takes longer than
-- TIMEOUT is a failure: the client stops the round and reports it.
--
-- Protocol with the parent: "ready"; then per round "go" {quota, fail_pct}
-- -> "done" {counts}; "stop" ends the client.
local time = require("time")

local TIMEOUT = 30000000000 -- 30 s, in ns: only a failure bound
local POLL = 5000000        -- 5 ms between look-ups while the relay is down
local DATA, WANT = "hello world", "HELLO WORLD"

local function main(parent)
    local inbox = process.inbox()
    local events = process.events()
    local me = process.pid()
    math.randomseed(time.now():unix_nano(), tonumber(me:match("(%x+)}$"), 16) or 0)

    local relay, usable -- the monitored relay; usable until a send to it failed
    local seq = 0
    local exited = {}   -- ids ended by a relay EXIT (to tell late from bad)
    local timer = time.timer(TIMEOUT)
    local tch = timer:channel()
    local function rearm()
        if not timer:reset(TIMEOUT) then
            -- it fired unread (between rounds): take a fresh timer, not
            -- the channel that may still hold that value
            timer = time.timer(TIMEOUT)
            tch = timer:channel()
        end
    end

    local function round(quota, fail_pct)
        local c = { sent = 0, replies = 0, failures = 0, exit_ended = 0, exit_events = 0,
                    late = 0, bad = 0, send_failures = 0, spawn_errors = 0, crash_sent = 0,
                    relays = 0, timeouts = 0, max_end_ns = 0, max_down_ns = 0 }
        local out, nout = {}, 0 -- id -> { crash = bool, at = ns } of requests on `relay`
        local function note_bad(what)
            c.bad = c.bad + 1
            if not c.first_bad then c.first_bad = what end
        end
        local function finish(id, now)
            local d = now - out[id].at
            if d > c.max_end_ns then c.max_end_ns = d end
            out[id] = nil
            nout = nout - 1
        end
        local function on_answer(m)
            local topic, body = m:topic(), m:payload():data()
            local id = type(body) == "table" and body.id
            local r = id and out[id]
            if topic ~= "echo_response" and topic ~= "echo_error" then
                note_bad("unexpected topic " .. tostring(topic))
            elseif not r then
                if exited[id] then
                    c.late = c.late + 1
                else
                    note_bad(topic .. " for request " .. tostring(id) .. ", not outstanding")
                end
            elseif topic == "echo_response" then
                if r.crash then note_bad("a reply to a crash request") end
                if body.data ~= WANT or type(body.worker) ~= "string" then
                    note_bad("reply " .. tostring(body.data))
                end
                c.replies = c.replies + 1
                finish(id, time.now():unix_nano())
            elseif type(body.worker) ~= "string" then
                -- the relay could not spawn the worker: not one of the endings
                c.spawn_errors = c.spawn_errors + 1
                note_bad("spawn error: " .. tostring(body.error))
                finish(id, time.now():unix_nano())
            else
                if not r.crash then note_bad("worker failed: " .. tostring(body.error)) end
                c.failures = c.failures + 1
                finish(id, time.now():unix_nano())
            end
        end
        local function on_event(ev)
            if ev.kind == process.event.EXIT and ev.from == relay then
                c.exit_events = c.exit_events + 1
                for id in pairs(out) do
                    exited[id] = true
                    c.exit_ended = c.exit_ended + 1
                end
                out, nout = {}, 0
                relay, usable = nil, nil
            elseif ev.kind == process.event.CANCEL then
                note_bad("cancelled")
                return false
            else
                note_bad("unexpected event " .. tostring(ev.kind) .. " from " .. tostring(ev.from))
            end
            return true
        end

        local down_since
        while c.sent < quota or nout > 0 do
            if not relay and c.sent < quota then
                -- look the relay up (again): the service restarts it
                local now = time.now():unix_nano()
                down_since = down_since or now
                if now - down_since > TIMEOUT then
                    c.timeouts = c.timeouts + 1
                    note_bad("no relay for 30 s")
                    break
                end
                local pid = process.registry.lookup("relay")
                if pid and process.monitor(pid) then
                    relay, usable = pid, true
                    c.relays = c.relays + 1
                    local d = time.now():unix_nano() - down_since
                    if d > c.max_down_ns then c.max_down_ns = d end
                    down_since = nil
                else
                    time.sleep(POLL) -- not registered yet, or already gone
                end
            elseif usable and c.sent < quota and nout == 0 then
                seq = seq + 1
                local crash = math.random() * 100 < fail_pct
                local ok = process.send(relay, "echo",
                                        { sender = me, data = crash and "crash" or DATA, id = seq })
                if ok then -- one request at a time, as the CLI
                    out[seq] = { crash = crash, at = time.now():unix_nano() }
                    nout = nout + 1
                    c.sent = c.sent + 1
                    if crash then c.crash_sent = c.crash_sent + 1 end
                else
                    -- the relay is gone; its EXIT is on the way (we monitor it)
                    seq = seq - 1
                    c.send_failures = c.send_failures + 1
                    usable = false
                end
            else
                rearm()
                local r = channel.select { inbox:case_receive(), events:case_receive(),
                                           tch:case_receive() }
                if r.channel == inbox then
                    on_answer(r.value)
                elseif r.channel == events then
                    if not on_event(r.value) then break end
                else
                    c.timeouts = c.timeouts + 1
                    note_bad(nout .. " request(s) unanswered for 30 s")
                    break
                end
            end
        end
        c.outstanding = nout
        return c
    end

    process.send(parent, "ready")
    while true do
        local r = channel.select { inbox:case_receive(), events:case_receive() }
        if r.channel == events then
            local ev = r.value
            -- the relay died between rounds: nothing of ours was on it
            if ev.kind == process.event.EXIT and ev.from == relay then
                relay, usable = nil, nil
            elseif ev.kind == process.event.CANCEL then
                return 0
            end
        else
            local m = r.value
            local topic = m:topic()
            if topic == "go" then
                local g = m:payload():data()
                process.send(parent, "done", round(g.quota, g.fail_pct))
            elseif topic == "stop" then
                timer:stop()
                return 0
            end
            -- anything else between rounds: a late answer to an earlier request
        end
    end
end

return { main = main }
