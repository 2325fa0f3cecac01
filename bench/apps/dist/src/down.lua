-- dist_down DOWN_AFTER_MS HEARTBEAT_MS (node A): how long until this node
-- notices that node B is gone, after a `kill -9` and after a SIGSTOP of B.
-- Remote monitors do not exist yet (issue 13 item 6), so it measures what
-- exists: the time until a process.send to a pid on B returns nil, err of
-- kind Unavailable (B is no longer a live member). bench/run drives it with
-- lines on stdin:
--   "target MODE PID"  PID lives on the node bench/run is about to stop: a
--                      round trip to it (B's factory answers "ping"), then a
--                      prober sends to it every millisecond; prints
--                      "armed MODE"
--   "signalled NS"     bench/run sent the signal at NS (wall clock, ns);
--                      waits for the prober's first failed send (60 s at
--                      most), prints "noticed MODE MS"
--   "end"              prints the RESULT line: send_unavailable_ms_<MODE>
--                      for each mode (kill9, sigstop), the arguments as
--                      down_after_ms and heartbeat_ms (what B ran with)
-- Asserted: the failed send's kind is Unavailable, and it came after the
-- signal.
local io = require("io")

local f3, expect = b.f3, b.expect
local fail = b.failer("dist_down")

local function main(down_after_ms, heartbeat_ms)
    local inbox = process.inbox()
    local fields = { "RESULT system=wippy scenario=dist_down",
                     "down_after_ms=" .. tostring(down_after_ms),
                     "heartbeat_ms=" .. tostring(heartbeat_ms) }
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
            if not process.spawn("app:prober", "app:processes", process.pid(), pid) then
                return fail("prober spawn failed")
            end
            io.print("armed " .. mode)
        elseif word == "signalled" then
            local at = math.tointeger(tonumber(rest))
            if not mode or not at then return fail("bad line: %s", line) end
            local m, e = expect(inbox, "unavailable", "60s")
            if not m then return fail("%s: no send failed: %s", mode, e) end
            local d = m:payload():data()
            if d.kind ~= "Unavailable" then
                return fail("%s: a send failed with %s (%s), not Unavailable", mode, d.kind, d.message)
            end
            local ms = (d.at - at) / 1e6
            if ms < 0 then return fail("%s: sends failed %.3f ms before the signal: %s", mode, -ms, d.message) end
            io.print("noticed " .. mode .. " " .. f3(ms) .. " after " .. d.probes .. " probes: " .. d.message)
            fields[#fields + 1] = "send_unavailable_ms_" .. mode .. "=" .. f3(ms)
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
