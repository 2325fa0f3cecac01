local function main(parent)
    process.send(parent, "zero")
    process.send(parent, "one", { x = 1, s = "str" })
    process.send(parent, "two", "a", 2)
    process.send(parent, "three", "a", nil, true)
    process.send(parent, "nil_payload", nil)
    process.send(parent, "float", 2.5)
    return 0
end
return { main = main }
