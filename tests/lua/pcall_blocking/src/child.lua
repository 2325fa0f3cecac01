return { main = function(parent) process.send(parent, "hello", "from child") return 0 end }
