-- The interactive client: reads lines, sends each to the relay and prints
-- the worker's answer. An empty line, end of input or Ctrl+C ends it.
--
-- Failures are reported instead of hanging: a failed worker is reported by
-- the relay ("echo_error"); a failed relay is seen through a monitor on it
-- (EXIT event) and, while it is down, the send to its name fails. Each
-- request carries an id, so a late answer to an earlier request is ignored.
local io = require("io")
local time = require("time")

local ESC = "\27["
local function paint(code, s) return ESC .. code .. "m" .. s .. ESC .. "0m" end
local function dim(s) return paint("2", s) end
local function red(s) return paint("31", s) end
local function green(s) return paint("32", s) end
local function yellow(s) return paint("33", s) end
local function cyan(s) return paint("36", s) end

-- Waits until the relay has registered its name (bounded by `limit`).
local function await_relay(limit)
    local give_up = time.after(limit)
    while not process.registry.lookup("relay") do
        local r = channel.select { give_up:case_receive(), time.after("10ms"):case_receive() }
        if r.channel == give_up then return false end
    end
    return true
end

-- Waits for the answer to request `id`. Returns false when the CLI was
-- cancelled (Ctrl+C / shutdown), true otherwise.
local function await_answer(inbox, events, id, relay_pid)
    local timeout = time.after("2s")
    while true do
        local r = channel.select { inbox:case_receive(), events:case_receive(),
                                   timeout:case_receive() }
        if r.channel == timeout then
            io.print(dim("  timeout: no answer within 2s"))
            return true
        elseif r.channel == events then
            local ev = r.value
            if ev.kind == process.event.CANCEL then
                return false
            elseif ev.kind == process.event.EXIT and ev.from == relay_pid then
                io.print(red("  relay unavailable: it failed (" .. tostring(ev.result.error) ..
                             "); its service restarts it"))
                return true
            end
        else
            local msg = r.value
            local body = msg:payload():data()
            if type(body) == "table" and body.id == id then
                if msg:topic() == "echo_response" then
                    io.print(green("  " .. body.data))
                    io.print(dim("  from worker: " .. body.worker))
                    return true
                elseif msg:topic() == "echo_error" then
                    io.print(red("  worker failed: " .. tostring(body.error)))
                    return true
                end
            end
            -- anything else (a late answer to an earlier request): ignore
        end
    end
end

local function main()
    local inbox = process.inbox()
    local events = process.events()

    if not await_relay("2s") then
        io.eprint("relay did not start")
        return 1
    end

    io.print(cyan("Echo Client"))
    io.print(dim("Type a message to echo it. Empty line or Ctrl+C quits."))
    io.print(dim("(\"crash\" crashes the worker, \"crash relay\" the relay.)\n"))

    local seq = 0
    local watched          -- the relay pid we monitor
    while true do
        io.write(yellow("> "))
        local input = io.readline()
        if not input or #input == 0 then
            break
        end

        seq = seq + 1
        local relay_pid = process.registry.lookup("relay")
        if relay_pid and relay_pid ~= watched and process.monitor(relay_pid) then
            watched = relay_pid   -- a new relay (after a restart): watch it
        end
        local _, err
        if relay_pid then
            _, err = process.send("relay", "echo", { sender = process.pid(), data = input, id = seq })
        end
        if not relay_pid or err then
            io.print(dim("  error: relay unavailable (it is being restarted; try again)"))
        elseif not await_answer(inbox, events, seq, watched) then
            break
        end
    end

    io.print("\nGoodbye!")
    return 0
end

return { main = main }
