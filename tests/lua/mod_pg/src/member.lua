-- A group member for mod_pg: opens app:pg, joins `groups`, tells `parent`
-- "joined"; then forwards every message it gets to the parent as
-- "got" {topic, data (the values: one, or an array), from, me}, until "stop" (it ends) or "leave" (it leaves
-- its groups, says "left", and waits for the next message).
return { main = function(parent, groups)
    local g = pg.open("app:pg")
    assert(g:join(groups))
    process.send(parent, "joined", process.pid())
    local inbox = process.inbox()
    while true do
        local m = inbox:receive()
        if m:topic() == "stop" then return 0 end
        if m:topic() == "leave" then
            assert(g:leave(groups))
            process.send(parent, "left", process.pid())
        else
            local p, data = m:payload(), nil
            if getmetatable(p) then -- one value
                data = p:data()
            elseif p then -- several: an array of Payload objects
                data = {}
                for i, v in ipairs(p) do data[i] = v:data() end
            end
            process.send(parent, "got", {topic = m:topic(), data = data, from = m:from(),
                                         me = process.pid()})
        end
    end
end }
