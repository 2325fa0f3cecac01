local obj = {}
function obj:method(x) return self, x end
function obj.field.sub:m(...) return ... end
local r = a.b:c(d)
local s = ("x"):rep(3):upper()
