-- A child that registers a name in the CONSISTENT scope, tells its parent
-- the outcome, and ends when the parent says "stop" (its end releases the
-- name).
return { main = function(parent, name)
    local ok, err = process.registry.register(name, nil, process.registry.CONSISTENT)
    process.send(parent, "kid", {name = name, outcome = ok and "ok" or tostring(err)})
    process.inbox():receive()
    return 0
end }
