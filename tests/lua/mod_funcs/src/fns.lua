-- function.lua methods for mod_funcs; each call runs in a fresh environment
calls = (calls or 0) + 1

local M = {}

function M.echo(...)
    return { n = select("#", ...), ... }
end

function M.raise()
    error("function raised")
end

function M.raise_obj()
    error(errors.new({ message = "raised object", kind = errors.CONFLICT, retryable = true }))
end

function M.str_err()
    return nil, "string second return"
end

function M.obj_err()
    return nil, errors.new({ message = "object second return", kind = errors.NOT_FOUND,
                             details = { id = 7 } })
end

function M.val_str_err()
    return "value", "error despite a value"
end

function M.empty_kind()
    return nil, errors.new({ message = "kind left empty", retryable = true })
end

function M.no_json()
    return json.encode({ 1 })
end

function M.false_second()
    return "v", false
end

function M.num_second()
    return "v", 5
end

function M.nothing()
end

function M.pid()
    return { pid = process.pid(), id = process.id() }
end

function M.send_back(caller)
    local ok, err = process.send(caller, "from_fn", process.pid())
    if not ok then return nil, err end
    return process.pid()
end

function M.counter()
    return calls
end

function M.uses_json(v)
    return json.encode(v)
end

function M.mutate(t)
    t.changed = true
    return t
end

function M.nested(a, b)
    return funcs.call("app:add", a, b)
end

function M.sleepy(d)
    time.sleep(d)
    return "slept"
end

function M.uses_lib(s)
    return helpers.shout(s) .. "|" .. require("helpers").shout(s)
end

function M.returns_table()
    local shared = { 1 }
    local t = { a = shared, b = shared }
    t.self = t
    return t
end

return M
