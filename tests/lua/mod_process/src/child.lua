-- Helper process for mod_process. main(parent, mode, ...) acts per mode;
-- "ready" messages let the parent synchronise without sleeping.
local function block()
    return process.inbox():receive()
end

local modes = {}

function modes.whoami(parent)
    process.send(parent, "whoami", { pid = process.pid(), id = process.id() })
end

function modes.args(parent, _, ...)
    return { n = select("#", ...), ... }
end

-- return the given values as the process result
function modes.ret(parent, _, ...)
    return ...
end

function modes.ret_table(parent)
    local shared = { "s" }
    local t = { a = 1, nested = { b = { c = "deep" } }, x = shared, y = shared }
    t.self = t
    return t
end

function modes.block(parent)
    process.send(parent, "ready", process.pid())
    block()
    return "released"
end

function modes.fail_on_msg(parent)
    process.send(parent, "ready", process.pid())
    block()
    error("linked child failed")
end

function modes.raise_obj(parent)
    error(errors.new({ message = "conflicting", kind = errors.CONFLICT, retryable = true }))
end

function modes.raise_text(parent)
    error("plain failure")
end

function modes.task_error(parent)
    -- a spawned task runs first (as in Wippy): say "ready" before it fails
    process.send(parent, "ready", process.pid())
    coroutine.spawn(function() error("task blew up") end)
    block()
    return "unreachable"
end

-- link to target without trapping; must die when target fails abnormally
function modes.link_to(parent, _, target)
    local ok, err = process.link(target)
    if not ok then error("link failed: " .. tostring(err)) end
    process.send(parent, "ready", process.pid())
    block()
    return "not killed"
end

-- link, then unlink: must survive target's failure
function modes.link_unlink(parent, _, target)
    assert(process.link(target))
    local ok, err = process.unlink(target)
    if ok ~= true then error("unlink failed: " .. tostring(err)) end
    process.send(parent, "ready", process.pid())
    block()
    return "survived"
end

-- trap links, link to target, report the first event
function modes.trap_report(parent, _, target)
    local ok, err = process.set_options({ trap_links = true })
    if not ok then error("set_options: " .. tostring(err)) end
    assert(process.link(target))
    process.send(parent, "ready", process.pid())
    local ev = process.events():receive()
    local e = ev.result and ev.result.error
    return {
        kind = ev.kind, from = ev.from, at = ev.at,
        has_result = ev.result ~= nil,
        value = ev.result and ev.result.value,
        err = e and e:message(), err_kind = e and e:kind(),
    }
end

-- wait for one event and return its fields
function modes.cancellable(parent)
    process.send(parent, "ready", process.pid())
    local ev = process.events():receive()
    return { kind = ev.kind, from = ev.from, reason = ev.reason, at = ev.at }
end

-- register `name` for itself, then block
function modes.register(parent, _, name)
    local ok, err = process.registry.register(name)
    if not ok then error("register: " .. tostring(err)) end
    process.send(parent, "ready", process.pid())
    block()
    return "done"
end

-- send messages to parent, then end
function modes.sender(parent, _, topic, n)
    for i = 1, n do process.send(parent, topic, i) end
    return "sent"
end

-- echo each inbox message back to its sender with topic "echo:<topic>",
-- until topic "stop"
function modes.echo(parent)
    process.send(parent, "ready", process.pid())
    local inbox = process.inbox()
    while true do
        local msg = inbox:receive()
        if msg:topic() == "stop" then return "stopped" end
        local p = msg:payload()
        local shape
        if p == nil then shape = "nil"
        elseif type(p) == "table" then shape = "list:" .. #p
        else shape = "payload" end
        local values = {}
        if type(p) == "table" then
            for i, x in ipairs(p) do values[i] = x:data() end
        elseif p ~= nil then
            values[1] = p:data()
        end
        process.send(msg:from(), "echo:" .. msg:topic(), { from = msg:from(), shape = shape, values = values })
    end
end

local function main(parent, mode, ...)
    local f = modes[mode]
    if not f then error("unknown mode " .. tostring(mode)) end
    return f(parent, mode, ...)
end

return { main = main }
