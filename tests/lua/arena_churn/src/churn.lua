-- Makes `iterations` objects (tables with strings, array parts and nested
-- tables of many sizes) and keeps the last `window` alive in a ring; each
-- object is checked when it leaves the ring and at the end. Returns how many
-- were found changed.
local function str(i)
    return string.rep(string.char(65 + i % 26), i % 300 + 1) .. i
end

local function make(i)
    local t = { i = i, s = str(i) }
    for k = 1, i % 40 do t[k] = k * i end
    if i % 7 == 0 then t.h = { [t.s] = i, x = { t.s } } end
    return t
end

local function intact(t, i)
    if type(t) ~= "table" or t.i ~= i or t.s ~= str(i) or #t ~= i % 40 then return false end
    for k = 1, i % 40 do
        if t[k] ~= k * i then return false end
    end
    if i % 7 == 0 then
        return type(t.h) == "table" and t.h[t.s] == i and t.h.x[1] == t.s
    end
    return t.h == nil
end

local function main(iterations, window)
    local ring, bad = {}, 0
    for i = 1, iterations do
        local slot = i % window + 1
        if i > window and not intact(ring[slot], i - window) then bad = bad + 1 end
        ring[slot] = make(i)
    end
    for i = iterations - window + 1, iterations do
        if not intact(ring[i % window + 1], i) then bad = bad + 1 end
    end
    return { bad = bad, n = iterations }
end

return { main = main }
