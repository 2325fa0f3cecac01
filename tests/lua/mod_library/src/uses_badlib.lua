return { main = function() return bad.anything end }
