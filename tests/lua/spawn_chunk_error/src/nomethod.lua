-- method "run" is not exported
return { main = function() return 0 end }
