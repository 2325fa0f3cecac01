-- memory_checks.lua: checks shared by the memory_limit cases, a library
-- imported as `m` (it uses app:testing as `t`).
local M = {}

-- Spawns entry (monitored) with this process's pid and the arguments;
-- returns its pid.
function M.start(entry, ...)
    local pid, err = process.spawn_monitored(entry, "app:processes", process.pid(), ...)
    t.check(pid, "spawn failed: " .. tostring(err))
    return pid
end

-- Runs entry to its end; returns its EXIT event.
function M.run(entry, ...)
    return t.wait_exit(M.start(entry, ...), "30s")
end

-- The EXIT of a process ended at a limit ("limit 1M", "runtime limit 16M"):
-- no value, an Internal error naming the limit as written, and nothing it
-- sent after something caught the error.
function M.ended(ev, limit)
    t.eq(ev.result.value, nil, "result value")
    local e = t.errkind(ev.result.error, errors.INTERNAL, nil, "exit error")
    t.eq(e:message(), "memory limit exceeded (" .. limit .. ")", "message")
    t.nothing(process.inbox(), "inbox after the exit")
end

-- The EXIT of a process that returned `value` normally.
function M.fits(ev, value)
    t.eq(ev.result.error, nil, "exit error")
    t.eq(ev.result.value, value, "result")
end

return M
