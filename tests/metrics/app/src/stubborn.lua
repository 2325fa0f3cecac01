-- Ignores CANCEL: at shutdown its host kills it (exit reason shutdown).
local function main()
    local events = process.events()
    while true do events:receive() end
end
return { main = main }
