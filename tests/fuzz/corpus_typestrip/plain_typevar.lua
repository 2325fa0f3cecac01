local type = "a"
type = type .. "b"
local x = type
y = 1
local r = type(x) == "string" and x or nil
t.type = {type = type}
