local base = {a = 1}
type Base = typeof(base)
local copy: typeof(base) = base
type Tbl = {read x: number, write y: string; [number]: boolean}
