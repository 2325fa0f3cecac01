-- A process the process tests spawn: fails, waits, or returns the reason
-- of a CANCEL it gets.
local function main(mode: string): any
    if mode == "fail" then error("child failed on purpose") end
    if mode == "cancel" then
        local ev = process.events():receive()
        return "cancelled: " .. tostring(ev.reason)
    end
    process.inbox():receive()
    return 0
end

return { main = main }
