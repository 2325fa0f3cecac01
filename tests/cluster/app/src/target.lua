-- A process watched from another node (tests/cluster/run.sh): on "end"
-- sends N numbered "bye" messages to the sender, then returns "done"; on
-- "fail" raises "boom"; otherwise stays (until its node is killed).
return { main = function()
    local inbox = process.inbox()
    while true do
        local msg = inbox:receive()
        if msg:topic() == "end" then
            for i = 1, msg:payload():data() do process.send(msg:from(), "bye", i) end
            return "done"
        elseif msg:topic() == "fail" then
            error("boom")
        end
    end
end }
