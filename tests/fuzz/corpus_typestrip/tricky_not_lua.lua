a ? b
x = y :: 
local = 1
type X =
function f(a: ) end
