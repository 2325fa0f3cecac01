local a, b, c, d = 1e-3, 0x1p4, 0xFF, .5
local e = 3.14e+2 // 1 | 2 & 3 ~ 4 << 1 >> 1
local f = a..b .. c
print(#"x", -a, not b, a ~= b, a <= b, a >= b)
