-- Links to `target` (a pid of another node) without trapping links, tells
-- `parent` "linked", and waits: a LINK_DOWN ends it ("linked process
-- failed"). tests/cluster/run.sh.
return { main = function(target, parent)
    local ok, err = process.link(target)
    process.send(parent, "linked", tostring(ok) .. " " .. tostring(err))
    process.inbox():receive()
    return 0
end }
