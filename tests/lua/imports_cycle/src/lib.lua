return { name = "lib" }
