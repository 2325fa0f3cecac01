-- an error in a spawned task of the terminal process ends it with exit 1
local function main()
    coroutine.spawn(function()
        io.print("PASS task about to raise")
        error("task boom")
    end)
    channel.new():receive()
    return 0
end
return { main = main }
