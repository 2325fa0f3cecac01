local function main(parent, n)
    for i = 1, n do
        process.send(parent, "early", i)
    end
    return 0
end
return { main = main }
