-- Changes what its state image put in place (library tables and their
-- functions, the string metatable, a top-level table, a global) and returns
-- what it found first: a process copied from the same image after it must
-- see none of the changes.
local CONFIG = { mode = "original" }

local function main()
    local found = {
        upper = type(string.upper), send = type(process.send), mode = CONFIG.mode,
        method = ("abc"):upper(), marker = rawget(_G, "image_marker"),
    }
    string.upper = nil
    process.send = nil
    CONFIG.mode = "changed"
    image_marker = true
    getmetatable("").__index = {}
    return found
end

return { main = main }
