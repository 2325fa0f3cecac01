-- Logs three records with fields (tests/control/logs.sh reads them).
local function main()
    logger:info("hello \"json\"", {n = 1, f = 1.5, s = "x\ny", inf = math.huge, t = {1, 2}})
    print("printed", 42)
    logger:with({component = "c1"}):warn("careful")
    return 0
end

return { main = main }
