--[==[ ]] ]=] ]==] local x: T = 1
return "a\
b", "\z
  c"
