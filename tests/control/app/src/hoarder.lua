-- Registers "hoarder" and waits on a channel nobody sends to: its inbox
-- only grows.
local function main()
    process.registry.register("hoarder")
    channel.new():receive()
end

return { main = main }
