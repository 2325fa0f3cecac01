-- chaoslib.lua: driving the chaos clients (client.lua) in rounds, shared by
-- the chaos run (main.lua) and the soak's echo lane (apps/soak), imported as
-- `cl`. A client says "ready", answers each "go" {quota, fail_pct} with
-- "done" {counts} and ends on "stop".
local time = require("time")

local M = {}

-- the counts a client reports that add up over clients
local KEYS = { "sent", "replies", "failures", "exit_ended", "exit_events", "late", "bad",
               "send_failures", "spawn_errors", "crash_sent", "relays", "timeouts",
               "outstanding" }

-- Starts c monitored clients on app:processes and waits until all are
-- ready. Returns their pids, or nil and an error.
function M.start(inbox, c, limit)
    local me = process.pid()
    local clients = {}
    for i = 1, c do
        local pid, err = process.spawn_monitored("app:client", "app:processes", me)
        if not pid then return nil, string.format("client %d spawn: %s", i, tostring(err)) end
        clients[i] = pid
    end
    local deadline = time.after(limit)
    for i = 1, c do
        local r = channel.select { inbox:case_receive(), deadline:case_receive() }
        if r.channel == deadline then return nil, string.format("only %d of %d clients ready", i - 1, c) end
        if r.value:topic() ~= "ready" then return nil, "unexpected " .. r.value:topic() end
    end
    return clients
end

-- One round: sends every client "go" with its quota (quotas[i], or quotas
-- itself when a number) and sums their reports. Returns the totals, or nil
-- and an error (a client's EXIT meanwhile is one).
function M.round(inbox, events, clients, quotas, fail_pct, limit)
    for i, pid in ipairs(clients) do
        local q = type(quotas) == "table" and quotas[i] or quotas
        process.send(pid, "go", { quota = q, fail_pct = fail_pct })
    end
    local t = { max_end_ns = 0, max_down_ns = 0 }
    for _, k in ipairs(KEYS) do t[k] = 0 end
    local deadline = time.after(limit)
    for i = 1, #clients do
        local r = channel.select { inbox:case_receive(), events:case_receive(),
                                   deadline:case_receive() }
        if r.channel == deadline then
            return nil, string.format("only %d of %d clients reported within %s", i - 1, #clients, limit)
        elseif r.channel == events then
            local ev = r.value
            return nil, string.format("event %s from %s: %s", tostring(ev.kind), tostring(ev.from),
                                      tostring(ev.result and ev.result.error))
        end
        local m = r.value
        if m:topic() ~= "done" then return nil, "unexpected " .. m:topic() end
        local d = m:payload():data()
        for _, k in ipairs(KEYS) do t[k] = t[k] + d[k] end
        t.max_end_ns = math.max(t.max_end_ns, d.max_end_ns)
        t.max_down_ns = math.max(t.max_down_ns, d.max_down_ns)
        if d.first_bad and not t.first_bad then t.first_bad = m:from() .. ": " .. d.first_bad end
    end
    return t
end

-- A round's accounting: nil when it holds, else what does not. Every
-- request sent ended exactly once (reply, failure report or relay EXIT), no
-- client timed out, nothing unexpected arrived, `want` requests were sent.
function M.check(t, want)
    if t.timeouts ~= 0 then return string.format("%d client(s) timed out (%s)", t.timeouts, t.first_bad) end
    if t.bad ~= 0 then return string.format("%d unexpected answers, first: %s", t.bad, t.first_bad) end
    if t.sent ~= want then return string.format("clients sent %d of %d requests", t.sent, want) end
    local ended = t.replies + t.failures + t.exit_ended
    if ended ~= t.sent or t.outstanding ~= 0 then
        return string.format("%d sent, %d ended (%d replies + %d failures + %d by relay EXIT), %d outstanding",
                             t.sent, ended, t.replies, t.failures, t.exit_ended, t.outstanding)
    end
    return nil
end

-- Tells every client to stop and waits for their normal EXITs. Returns nil,
-- or an error.
function M.stop(events, clients, limit)
    for _, pid in ipairs(clients) do process.send(pid, "stop") end
    local deadline = time.after(limit)
    for i = 1, #clients do
        local r = channel.select { events:case_receive(), deadline:case_receive() }
        if r.channel == deadline then return string.format("only %d of %d clients ended", i - 1, #clients) end
        local ev = r.value
        if ev.kind ~= process.event.EXIT then return "unexpected event " .. tostring(ev.kind) end
        if ev.result and ev.result.error then
            return string.format("client %s failed: %s", ev.from, tostring(ev.result.error))
        end
    end
    return nil
end

return M
