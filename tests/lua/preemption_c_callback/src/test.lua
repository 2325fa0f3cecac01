-- 8 processes spinning inside a table.sort comparator / string.gsub callback on the process host must not keep a
-- 9th process on the same host (nor this terminal process) from running
-- (the body is shared: tests/lua/lib/preemption.lua).
local function main() return p.run({ "sort", "gsub" }) end

return { main = main }
