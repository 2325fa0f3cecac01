-- A process on the process host: its pid shows the host part a node's pids
-- carry. Waits for one message (the node's "stop"), or a CANCEL at shutdown.
return { main = function()
    process.inbox():receive()
    return 0
end }
