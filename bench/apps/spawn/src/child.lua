local function main(parent)
    process.send(parent, "x")
    return 0
end
return { main = main }
