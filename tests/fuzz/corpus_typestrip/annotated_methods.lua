local Obj = {}
function Obj.new(x: number): Obj return setmetatable({x = x}, Obj) end
function Obj:get(key: string, default: any?): any
  return self[key] or default
end
