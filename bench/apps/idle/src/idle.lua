-- An idle process: says it is up, then blocks in receive; the first message
-- (a stop) ends it.
local function main(parent)
    process.send(parent, "up")
    local m = process.inbox():receive()
    return 0
end
return { main = main }
