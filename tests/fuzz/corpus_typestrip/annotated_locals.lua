local stats: Stats = {count = 0}
local m: {[string]: any} = {}
local xs: any[], n: number = {}, 0
local cb: (number) -> () = function(x: number) end
local v = (m :: any).x :: number
