local function add(a, b) return a + b end
local t = {type = 1, [2] = "x"}
print(type(t), t.type, add(1, 2))
