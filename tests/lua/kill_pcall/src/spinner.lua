-- Tells the parent it started, then spins inside a pcall inside a sort
-- comparator; whatever runs after the pcall tells the parent "caught".
local function main(parent)
    process.send(parent, "spinning")
    table.sort({ 3, 1, 2 }, function(a, b)
        local ok, err = pcall(function() while true do end end)
        process.send(parent, "caught", tostring(err))
        return a < b
    end)
    return "survived"
end

return { main = main }
