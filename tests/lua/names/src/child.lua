local function main(parent, mode)
    local inbox = process.inbox()
    if mode == "dup" then
        -- try to take the parent's name
        local ok, err = process.registry.register("names_main")
        process.send(parent, "dup_result", {
            ok = ok,
            kind = err and err:kind(),
            message = err and err:message(),
            lookup = process.registry.lookup("names_main"),
        })
        return 0
    elseif mode == "owner" then
        local ok, err = process.registry.register("names_child")
        local ok2 = process.registry.register("names_child_alias")
        process.send(parent, "registered", { ok = ok, ok2 = ok2, err = err and err:message() })
        while true do
            local msg = inbox:receive()
            if msg:topic() == "ping" then
                process.send(parent, "pong", msg:payload():data())
            elseif msg:topic() == "quit" then
                return 0
            end
        end
    elseif mode == "unreg" then
        -- any process may unregister a LOCAL name
        local r1 = process.registry.unregister("names_victim")
        local r2 = process.registry.unregister("names_victim")
        process.send(parent, "unreg_result", { r1 = r1, r2 = r2 })
        return 0
    end
end
return { main = main }
