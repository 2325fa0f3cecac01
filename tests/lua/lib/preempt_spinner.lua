-- Tells the parent it is running, then spins forever without a blocking
-- point, in a place selected by `mode`.
local function main(parent, mode)
    process.send(parent, "spinning", process.pid())
    local n = 0
    local function spin() while true do n = n + 1 end end
    if mode == "wrap" then
        coroutine.wrap(spin)()
    elseif mode == "resume" then
        coroutine.resume(coroutine.create(spin))
    elseif mode == "sort" then
        table.sort({ 3, 2, 1 }, function() spin() end)
    elseif mode == "gsub" then
        string.gsub("abc", "%w", spin)
    end
    error("stopped spinning (" .. tostring(mode) .. ")")
end
return { main = main }
