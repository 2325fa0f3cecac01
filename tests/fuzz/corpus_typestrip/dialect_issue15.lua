local list: any[] = {}
local groups: {[string]: any[]} = {}
local names: {any} = {}
local function pad(s: string, width: number?): string
  return s .. string.rep(" ", (width or 8) - #s)
end
local function two(): (boolean, any) return true, nil end
groups["a"] = list
table.insert(names, pad("x", 4))
return {groups = groups, names = names, two = two}
