-- Tells the parent it is running, then spins forever without a blocking point.
local function main(parent)
    process.send(parent, "spinning", process.pid())
    while true do end
end
return { main = main }
