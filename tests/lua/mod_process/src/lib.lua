return { f = function() return 1 end }
