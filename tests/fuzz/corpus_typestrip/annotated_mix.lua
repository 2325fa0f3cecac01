type Job = {id: integer, input: integer}
export type Map<K, V> = {[K]: V}
type Fn = (a: number, b: string) -> (boolean, string?)
local function main(): integer
  local s: Stats = {count = 0}
  local t: {[string]: any} = {}
  local xs: any[] = {}
  local f = function<T>(x: T, ...: any): T return x end
  local y = (t :: any).x :: number
  ::top::
  goto top
  return type(x) == "table" and obj:method() or 0
end
function obj:method(a: T, b: {x: number}?): (A, B)
end
local x <const>: number = 5
local z: T <close> = nil
for k: string, v: number in pairs(t) do end
