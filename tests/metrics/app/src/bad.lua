local function main() error("bad by design") end
return { main = main }
