-- pattern(n): n bytes of numbered ten-byte records ("000000000\n",
-- "000000001\n", ...), cut at n: no two fragments of a split message
-- alike, so one out of place shows (tests/cluster/flow.sh).
return function(n)
    local t = {}
    for i = 0, n // 10 do t[#t + 1] = string.format("%09d\n", i) end
    return table.concat(t):sub(1, n)
end
