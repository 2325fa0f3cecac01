local function main(...)
    local n, sum = select("#", ...), 0
    for i = 1, n do sum = sum + (select(i, ...)) end
    return { n = n, sum = sum, last = (select(n, ...)) }
end
return { main = main }
