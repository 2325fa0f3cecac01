-- io on a process host: every function except args returns nil, err (Unavailable).
local function main(parent)
    local report = {}
    local calls = {
        print = function() return io.print("x") end,
        write = function() return io.write("x") end,
        eprint = function() return io.eprint("x") end,
        readline = function() return io.readline() end,
        read = function() return io.read(10) end,
        flush = function() return io.flush() end,
    }
    for name, f in pairs(calls) do
        local ok, r, err = pcall(f)
        report[name] = {
            raised = not ok,
            r = ok and r or nil,
            kind = ok and err and err:kind() or nil,
            message = ok and err and err:message() or tostring(r),
        }
    end
    local args = io.args()
    report.args_type = type(args)
    report.args_len = type(args) == "table" and #args or -1
    process.send(parent, "report", report)
    return 0
end
return { main = main }
