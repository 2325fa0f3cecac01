local function greet(name: string, times: number?): string
  return string.rep(name, times or 1)
end
local function va(...: any): ...any return ... end
