-- Blocks in inbox receive until a message comes.
local function main()
    process.inbox():receive()
end

return { main = main }
