-- 8 processes spinning inside coroutine.wrap / coroutine.resume on the process host must not keep a
-- 9th process on the same host (nor this terminal process) from running
-- (the body is shared: tests/lua/lib/preemption.lua).
local function main() return p.run({ "wrap", "resume" }) end

return { main = main }
