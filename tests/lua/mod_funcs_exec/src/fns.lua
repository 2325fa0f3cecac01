-- function.lua methods for mod_funcs_exec
local M = {}

function M.add(a, b)
    return a + b
end

-- Tells `caller` it runs ("ready", its pid), waits for "go", returns v.
function M.gated(caller, v)
    process.send(caller, "ready", process.pid())
    local inbox = process.inbox()
    while true do
        local msg = inbox:receive()
        if msg:topic() == "go" then return v end
    end
end

-- Counts its attempts in ATTEMPTS; fails with an error of `kind` (and
-- `retryable`) until attempt `ok_at`, which returns the attempt's number.
function M.flaky(ok_at, kind, retryable)
    local n = tonumber(env.get("ATTEMPTS")) + 1
    env.set("ATTEMPTS", tostring(n))
    if n >= ok_at then return n end
    return nil, errors.new({ message = "attempt " .. n .. " failed", kind = kind,
                             retryable = retryable })
end

function M.ctx_all()
    return ctx.all()
end

function M.ctx_get(key)
    local v, err = ctx.get(key)
    if err then return { kind = err:kind(), message = err:message() } end
    return { value = v }
end

-- Calls ctx_all on: once plainly (inherits), once adding a key.
function M.ctx_nested()
    local plain = funcs.call("app:ctx_all")
    local more = funcs.new():with_context({ added = "inner", a = "overridden" }):call("app:ctx_all")
    return { plain = plain, more = more }
end

return M
