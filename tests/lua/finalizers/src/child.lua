-- A process whose state holds a finaliser when it ends (mode "gc"), or that
-- ends after its state outgrew the first arena block with many separate
-- allocations (mode "big", no finaliser), or after allocating and dropping
-- them ("churn"). The state of an ending process is released without a full
-- close only when nothing needs finalising: the "gc" finaliser must still run.
local function main(parent, mode)
    if mode == "gc" then
        setmetatable({}, { __gc = function() process.send(parent, "finalized", "gc") end })
        return "gc"
    elseif mode == "big" then
        local keep = {}
        for i = 1, 2000 do keep[i] = { i, tostring(i) .. "x" } end
        return #keep
    elseif mode == "churn" then
        local n = 0
        for i = 1, 200 do
            local t = { string.rep("y", i) }
            n = n + #t[1]
        end
        return n
    end
    return "unknown mode"
end
return { main = main }
