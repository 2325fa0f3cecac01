local function main(mode)
    if mode == "task_error" then
        local go = channel.new()
        coroutine.spawn(function()
            go:receive()
            error("task died")
        end)
        go:send(true)
        -- main blocks forever; the task's error must end the process
        process.inbox():receive()
        return "main survived"
    elseif mode == "main_returns" then
        for _ = 1, 3 do
            coroutine.spawn(function()
                while true do time.sleep("10ms") end
            end)
        end
        coroutine.spawn(function()
            channel.new():receive() -- blocked forever
        end)
        return 7
    end
end
return { main = main }
