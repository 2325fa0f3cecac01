local function map<T, U>(xs: {T}, f: (T) -> U): {U}
  local r: {U} = {}
  for i: number, x: T in ipairs(xs) do r[i] = f(x) end
  return r
end
type F = <T>(T) -> T
