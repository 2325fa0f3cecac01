-- Sends `count` numbered messages to `target` (tests/cluster/run.sh).
return { main = function(target, count)
    for i = 1, count do
        local ok, err = process.send(target, "seq", i)
        if not ok then error("send " .. i .. ": " .. tostring(err)) end
    end
    return 0
end }
