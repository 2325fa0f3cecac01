-- A member spawned by pgnode: joins `group` of app:pg, tells its parent
-- ("kid" {name, pid}), forwards every message it gets to the parent
-- ("kidgot" {name, topic, data, from}) and ends on "stop" (its end leaves
-- the group).
return { main = function(parent, name, group)
    local g = pg.open("app:pg")
    assert(g:join(group))
    process.send(parent, "kid", {name = name, pid = process.pid()})
    local inbox = process.inbox()
    while true do
        local m = inbox:receive()
        if m:topic() == "stop" then return 0 end
        process.send(parent, "kidgot", {name = name, topic = m:topic(),
            data = m:payload():data(), from = m:from()})
    end
end }
