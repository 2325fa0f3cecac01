-- Generates n v7 and n v1 UUIDs as fast as it can, after the parent says
-- "go" (so the children run at the same time), and sends both lists back.
local function main(parent, n)
    process.inbox():receive()
    local v7, v1 = {}, {}
    for i = 1, n do v7[i] = uuid.v7() end
    for i = 1, n do v1[i] = uuid.v1() end
    process.send(parent, "uuids", { v7 = v7, v1 = v1 })
    return 0
end
return { main = main }
