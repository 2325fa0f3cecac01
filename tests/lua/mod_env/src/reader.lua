-- reader.lua: env.get(name) in another process; returns value or the error text.
local function main(name)
    local v, err = env.get(name)
    if v == nil then return "error: " .. tostring(err) end
    return v
end
return { main = main }
