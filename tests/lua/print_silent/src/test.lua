-- print() logs; under `wippy run -x` logging is silent, so nothing shows.
local function main()
    print("print-must-stay-silent", 1, nil, true)
    io.print("PASS print returned")
    return 0
end
return { main = main }
