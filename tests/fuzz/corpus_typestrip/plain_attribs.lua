local x <const> = 5
local f <close> = setmetatable({}, {__close = function() end})
local a <const>, b = 1, 2
