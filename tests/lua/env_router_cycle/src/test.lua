local function main() print("PASS ran") return 0 end
return { main = main }
