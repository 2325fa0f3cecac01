local function main(parent, i)
    process.send(parent, "hi", i)
    return i * 2
end
return { main = main }
