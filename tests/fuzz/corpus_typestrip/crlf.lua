local x: number = 1
local function f(a: string)
end
