-- Returns a string of n bytes (a result too big for a waiting parent).
local function main(n)
    return string.rep("y", n)
end

return { main = main }
