-- process.lua entries called through funcs (spec 10 §2.6)
local M = {}

function M.add(a, b)
    return a + b
end

function M.fail(msg)
    return nil, errors.new({ message = msg, kind = errors.CONFLICT })
end

-- Tells `reporter` it runs, then reports the reason of the CANCEL it gets.
function M.cancelable(reporter)
    process.send(reporter, "callee", process.pid())
    local ev = process.events():receive()
    process.send(reporter, "callee_event", { kind = ev.kind, reason = ev.reason })
    return 0
end

-- Calls proc_cancelable and blocks in that call until it is terminated.
function M.caller(reporter)
    return funcs.call("app:proc_cancelable", reporter)
end

return M
