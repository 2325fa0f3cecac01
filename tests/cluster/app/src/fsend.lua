-- Sends `count` numbered "seq" messages to `target` (tests/cluster/flow.sh),
-- each with `size` bytes of padding when size > 0 ({n, padding}); with
-- `gate`, only once a "go" message came.
return { main = function(target, count, size, gate)
    if gate then process.inbox():receive() end
    local pad = size > 0 and string.rep("p", size) or nil
    for i = 1, count do
        local ok, err = process.send(target, "seq", pad and { i, pad } or i)
        if not ok then error("send " .. i .. ": " .. tostring(err)) end
    end
    return 0
end }
