local function main(parent, tag, n, big)
    local blob = big and string.rep("x", 70000) or nil
    for i = 1, n do
        -- alternate topics: ordering is per sender, not per topic; with `big`
        -- every third message carries a 70 KB payload
        local topic = (i % 2 == 0) and "even" or "odd"
        local extra = (blob and i % 3 == 0) and blob or nil
        local ok, err = process.send(parent, topic, tag, i, extra)
        if not ok then error("send failed: " .. tostring(err)) end
    end
    return n
end
return { main = main }
