local s = "unfinished
local t = [==[ never closed
