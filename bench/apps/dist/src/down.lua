-- dist_down DOWN_AFTER_MS HEARTBEAT_MS MONITORS (node A): how long until
-- this node notices that node B is gone, after a `kill -9` and after a
-- SIGSTOP of B: until every monitor of a process on B fired, and until a
-- process.send to a pid on B returns nil, err. bench/run drives it with
-- lines on stdin:
--   "target MODE PID"  PID is the factory of the node bench/run is about to
--                      stop: a round trip to it ("ping" / "pong"), then it
--                      starts MONITORS waiting processes there ("targets"),
--                      one watcher here per target monitors it (each says
--                      "watching"), and a prober sends to the factory every
--                      millisecond; prints "armed MODE"
--   "signalled NS"     bench/run sent the signal at NS (wall clock, ns);
--                      waits (60 s at most) for every watcher's EXIT and
--                      the prober's first failed send, prints "noticed MODE
--                      ..."
--   "end"              prints the RESULT line: for each mode (kill9,
--                      sigstop) monitor_first_ms_<MODE> and
--                      monitor_last_ms_<MODE> (ms from the signal until the
--                      first and the last watcher got its EXIT: the last is
--                      "every monitor fired"), send_unavailable_ms_<MODE>;
--                      monitors, and the arguments as down_after_ms and
--                      heartbeat_ms (what B ran with)
-- Asserted: every EXIT carries error "node disconnected" of kind
-- Unavailable, the failed send's kind is Unavailable, and all came after
-- the signal.
local io = require("io")
local time = require("time")

local f3, expect, int_arg = b.f3, b.expect, b.int_arg
local fail = b.failer("dist_down")

-- the next inbox message, whatever its topic, bounded by `limit`
local function next_message(inbox, limit)
    local deadline = time.after(limit)
    local r = channel.select { inbox:case_receive(), deadline:case_receive() }
    if r.channel == deadline then return nil, "timed out" end
    return r.value
end

local function main(down_after_ms, heartbeat_ms, monitors)
    local n = int_arg(monitors)
    if not n or n < 1 then
        io.eprint("usage: down DOWN_AFTER_MS HEARTBEAT_MS MONITORS (MONITORS >= 1)")
        return 2
    end
    local inbox = process.inbox()
    local me = process.pid()
    local fields = { "RESULT system=wippy scenario=dist_down",
                     "down_after_ms=" .. tostring(down_after_ms),
                     "heartbeat_ms=" .. tostring(heartbeat_ms), "monitors=" .. n }
    local mode
    while true do
        local line = io.readline()
        if not line then return fail("stdin ended") end
        local word, rest = line:match("^(%S+)%s*(.*)$")
        if word == "target" then
            local pid
            mode, pid = rest:match("^(%S+)%s+({.*})$")
            if not mode then return fail("bad line: %s", line) end
            local ok, err = process.send(pid, "ping")
            if not ok then return fail("%s: cannot reach %s: %s", mode, pid, tostring(err)) end
            local _, e = expect(inbox, "pong", "10s")
            if e then return fail("%s: %s", mode, e) end
            process.send(pid, "targets", n)
            local tm, te = expect(inbox, "targets", "30s")
            if not tm then return fail("%s: %s", mode, te) end
            local targets = tm:payload():data()
            if #targets ~= n then return fail("%s: %d targets for %d", mode, #targets, n) end
            for i = 1, n do
                if not process.spawn("app:watcher", "app:processes", me, targets[i]) then
                    return fail("watcher spawn failed")
                end
            end
            for _ = 1, n do
                local m, we = next_message(inbox, "30s")
                if not m then return fail("%s: %s watching", mode, we) end
                if m:topic() ~= "watching" then
                    return fail("%s: a watcher said %s: %s", mode, m:topic(), tostring(m:payload():data()))
                end
            end
            if not process.spawn("app:prober", "app:processes", me, pid) then
                return fail("prober spawn failed")
            end
            io.print("armed " .. mode)
        elseif word == "signalled" then
            local at = math.tointeger(tonumber(rest))
            if not mode or not at then return fail("bad line: %s", line) end
            local first, last, sent, sent_msg, fired = nil, nil, nil, nil, 0
            local deadline = time.after("60s")
            while fired < n or not sent do
                local r = channel.select { inbox:case_receive(), deadline:case_receive() }
                if r.channel == deadline then
                    return fail("%s: after 60 s %d of %d monitors fired, the send %s", mode, fired, n,
                                sent and "failed" or "had not failed")
                end
                local topic, d = r.value:topic(), r.value:payload():data()
                if topic == "fired" then
                    if d.kind ~= "Unavailable" or d.message ~= "node disconnected" then
                        return fail("%s: an EXIT with %s (%s), not Unavailable (node disconnected)",
                                    mode, d.kind, d.message)
                    end
                    fired = fired + 1
                    if not first or d.at < first then first = d.at end
                    if not last or d.at > last then last = d.at end
                elseif topic == "unavailable" then
                    if d.kind ~= "Unavailable" then
                        return fail("%s: a send failed with %s (%s), not Unavailable", mode, d.kind,
                                    d.message)
                    end
                    sent, sent_msg = d.at, d.message .. " after " .. d.probes .. " probes"
                else
                    return fail("%s: unexpected %s", mode, topic)
                end
            end
            local f_ms, l_ms, s_ms = (first - at) / 1e6, (last - at) / 1e6, (sent - at) / 1e6
            if f_ms < 0 or s_ms < 0 then
                return fail("%s: noticed %.3f ms before the signal", mode, -math.min(f_ms, s_ms))
            end
            io.print("noticed " .. mode .. " " .. n .. " monitors fired " .. f3(f_ms) .. ".."
                     .. f3(l_ms) .. " ms after the signal; a send failed at " .. f3(s_ms)
                     .. " ms: " .. sent_msg)
            fields[#fields + 1] = "monitor_first_ms_" .. mode .. "=" .. f3(f_ms)
            fields[#fields + 1] = "monitor_last_ms_" .. mode .. "=" .. f3(l_ms)
            fields[#fields + 1] = "send_unavailable_ms_" .. mode .. "=" .. f3(s_ms)
            mode = nil
        elseif word == "end" then
            io.print(table.concat(fields, " "))
            return 0
        else
            return fail("bad line: %s", line)
        end
    end
end

return { main = main }
