-- A main task that blocks first, then ends as the parent says: while it is
-- suspended, the runtime routes messages and timers on a stack of its own.
--   "error":  receive, then raise
--   "return": receive, wait for a time.after channel, return a value
--   "sleep":  time.sleep, then return
--   "wait":   block in receive until terminated
local time = require("time")

local function main(parent, how)
    local inbox = process.inbox()
    process.send(parent, "blocked", how)
    if how == "sleep" then
        time.sleep("5ms")
        return "slept"
    end
    local m = inbox:receive()
    if how == "error" then error("raised after " .. m:topic()) end
    if how == "return" then
        local v = time.after("1ms"):receive()
        return { topic = m:topic(), timer = type(v) }
    end
    inbox:receive()
    return "not reached"
end

return { main = main }
