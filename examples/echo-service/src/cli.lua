-- The interactive client: reads lines, sends each to the relay and prints
-- the worker's answer. An empty line, end of input or Ctrl+C ends it.
local io = require("io")
local time = require("time")

local ESC = "\27["
local function paint(code, s) return ESC .. code .. "m" .. s .. ESC .. "0m" end
local function dim(s) return paint("2", s) end
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

local function main()
    local inbox = process.inbox()

    if not await_relay("2s") then
        io.eprint("relay did not start")
        return 1
    end

    io.print(cyan("Echo Client"))
    io.print(dim("Type a message to echo it. Empty line or Ctrl+C quits.\n"))

    while true do
        io.write(yellow("> "))
        local input = io.readline()
        if not input or #input == 0 then
            break
        end

        local _, err = process.send("relay", "echo", { sender = process.pid(), data = input })
        if err then
            io.print(dim("  error: relay unavailable"))
        else
            local timeout = time.after("2s")
            local r = channel.select { inbox:case_receive(), timeout:case_receive() }
            if r.channel == timeout then
                io.print(dim("  timeout"))
            elseif r.value:topic() == "echo_response" then
                local resp = r.value:payload():data()
                io.print(green("  " .. resp.data))
                io.print(dim("  from worker: " .. resp.worker))
            end
        end
    end

    io.print("\nGoodbye!")
    return 0
end

return { main = main }
