-- io in a process that is not on a terminal host
return {
    main = function()
        local r = {}
        r.write_v, r.write_e = io.write("x")
        r.print_v, r.print_e = io.print("x")
        r.eprint_v, r.eprint_e = io.eprint("x")
        r.readline_v, r.readline_e = io.readline()
        r.flush_v, r.flush_e = io.flush()
        r.args = io.args()
        return r
    end,
}
