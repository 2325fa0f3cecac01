-- Watches processes of another node (tests/cluster/run.sh): on "watch"
-- with a pid, monitors and links it (trapping links) and answers
-- "watching"; prints every EXIT and LINK_DOWN it gets as
-- "trapper KIND FROM VALUE ERROR"; ends on a CANCEL.
return { main = function()
    process.set_options({ trap_links = true })
    local inbox, events = process.inbox(), process.events()
    while true do
        local r = channel.select({ inbox:case_receive(), events:case_receive() })
        if r.channel == inbox then
            local msg = r.value
            if msg:topic() == "watch" then
                local pid = msg:payload():data()
                assert(process.monitor(pid))
                assert(process.link(pid))
                process.send(msg:from(), "watching", pid)
            end
        elseif r.value.kind == process.event.CANCEL then
            return 0
        else
            local ev = r.value
            local err = ev.result.error
            print("trapper " .. ev.kind .. " " .. ev.from .. " " .. tostring(ev.result.value) ..
                " " .. (err and err:message() or "nil"))
        end
    end
end }
