local s = "local x: number = 1"
local t = 'a \'q\' : string \z
           more'
local u = [==[
type X = {a: number}
]] still ]=] inside
]==]
--[[ local function f(): integer ]]
--[=[ x :: T ]=]
-- function g(a: T)
