-- a library with its own module (json), private locals and per-process state
local secret = "hidden"
local loads = (rawget(_G, "mathlib_loads") or 0) + 1
mathlib_loads = loads

local state = { n = 0 }

local M = {}
function M.square(x) return x * x end
function M.encode(v) return json.encode(v) end
function M.loads() return loads end
function M.bump() state.n = state.n + 1 return state.n end
function M.peek_secret() return secret end
return M
