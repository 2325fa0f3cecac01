local function f(x: any)
  local n = x :: number
  ::retry::
  if n > 0 then n = n - 1 goto retry end
  return n :: integer
end
