-- a chunk returning a function: method is ignored
return function(x) return x * 2 end
