-- memory_hog.lua: grows its heap in ways that pass its memory limit (the
-- memory_limit cases); `mode` picks how, and where something might catch
-- the error. Whatever runs after a catch tells the parent ("caught"): it
-- must never arrive.
local function fill(t)
    for i = 1, 1e6 do t[i] = { i, "item " .. i } end -- ~100 MB: past any limit here
end

local modes = {}

function modes.plain()
    fill({})
end

function modes.pcall(parent)
    local ok, err = pcall(fill, {})
    process.send(parent, "caught", tostring(err))
    return "survived"
end

function modes.xpcall(parent)
    local ok, err = xpcall(fill, function(e)
        process.send(parent, "caught", "handler: " .. tostring(e))
        return e
    end, {})
    process.send(parent, "caught", tostring(err))
    return "survived"
end

function modes.nested_pcall(parent)
    for _ = 1, 3 do
        pcall(pcall, fill, {})
        process.send(parent, "caught", "nested")
    end
    return "survived"
end

function modes.coroutine(parent)
    local co = coroutine.create(function() fill({}) end)
    local ok, err = coroutine.resume(co)
    process.send(parent, "caught", tostring(err))
    local w = coroutine.wrap(function() fill({}) end)
    pcall(w)
    process.send(parent, "caught", "wrap")
    return "survived"
end

function modes.string(parent)
    local ok, err = pcall(string.rep, "x", 4 * 1024 * 1024)
    process.send(parent, "caught", tostring(err))
    return "survived"
end

function modes.task(parent)
    coroutine.spawn(function()
        local ok = pcall(fill, {})
        process.send(parent, "caught", "task")
    end)
    process.inbox():receive()
    return "survived"
end

-- Holds 900 KB (of a 2M limit: string.rep needs twice that for a moment),
-- then waits for a child's 1.5 MB result: the result is decoded for a task
-- that is not running.
function modes.exec(parent)
    local keep = string.rep("k", 900 * 1024)
    process.send(parent, "waiting")
    local r, err = process.exec("app:big", "app:processes", 1536 * 1024)
    process.send(parent, "caught", tostring(err))
    return #keep + #tostring(r)
end

-- Holds 900 KB, then waits in receive for the parent's 1.5 MB message.
function modes.inbox(parent)
    local keep = string.rep("k", 900 * 1024)
    process.send(parent, "waiting")
    local msg = process.inbox():receive()
    process.send(parent, "caught", "inbox")
    return #keep + #msg:payload():data()
end

-- About kb KB alive at once: fine without a limit or under a larger one.
local function build(kb)
    local t = {}
    for i = 1, kb do t[i] = string.rep("g", 1000) .. i end
    return t
end

function modes.grow(parent, kb)
    return #build(kb)
end

-- Holds kb KB until the parent says "release".
function modes.hold(parent, kb)
    local t = build(kb)
    process.send(parent, "held", kb)
    process.inbox():receive()
    return #t
end

-- Lots of garbage, little alive: collections keep it under the limit.
function modes.churn()
    local n = 0
    for i = 1, 20000 do
        local t = { i, "garbage " .. i, { i } }
        n = n + #t
    end
    return n
end

local function main(parent, mode, ...)
    return modes[mode](parent, ...)
end

return { main = main }
