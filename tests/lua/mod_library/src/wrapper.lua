-- a library importing another library
return {
    sum_of_squares = function(a, b) return m.square(a) + m.square(b) end,
    encode_twice = function(v) return require("m").encode({ m.encode(v) }) end,
}
