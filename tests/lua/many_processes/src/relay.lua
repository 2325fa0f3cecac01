-- A chain: each link spawns the next one and forwards the token at the end.
local function main(origin, depth, token)
    if depth == 0 then
        process.send(origin, "token", token)
        return 0
    end
    local pid, err = process.spawn("app:relay", "app:processes", origin, depth - 1, token .. ".")
    if not pid then error("spawn failed: " .. tostring(err)) end
    return 0
end
return { main = main }
