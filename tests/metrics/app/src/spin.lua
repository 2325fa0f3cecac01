-- Runs past its time slice (10 ms) without blocking: preempted.
local function main()
    local x = 0
    for i = 1, 30000000 do x = x + i end
    return x > 0 and 0 or 1
end
return { main = main }
