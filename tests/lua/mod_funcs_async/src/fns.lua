-- function.lua methods for mod_funcs_async
local M = {}

function M.add(a, b)
    return a + b
end

function M.nothing()
end

function M.fail(msg)
    return nil, errors.new({ message = msg, kind = errors.CONFLICT, retryable = true,
                             details = { why = "asked" } })
end

function M.raise(msg)
    error(msg)
end

-- Tells `caller` it runs ("ready", its pid), then waits for "go" and
-- returns its argument: the caller decides when the call ends.
function M.gated(caller, v)
    process.send(caller, "ready", process.pid())
    local inbox = process.inbox()
    while true do
        local msg = inbox:receive()
        if msg:topic() == "go" then return v end
    end
end

function M.send_back(caller, v)
    process.send(caller, "sent_back", v)
    return v
end

return M
