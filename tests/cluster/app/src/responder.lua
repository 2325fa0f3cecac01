-- Receives from another node (tests/cluster/run.sh): answers "ping" with
-- "pong" to its sender, checks that the "seq" messages of each sender come
-- complete and in order, and ends on a CANCEL, saying who sent it.
return { main = function()
    local inbox, events = process.inbox(), process.events()
    local last, total, expected, bad = {}, 0, nil, nil
    local function done()
        if expected and total == expected then
            print("order " .. (bad or "ok") .. " " .. total)
        end
    end
    while true do
        local r = channel.select({ inbox:case_receive(), events:case_receive() })
        if r.channel == events then
            local ev = r.value
            if ev.kind == process.event.CANCEL then
                print("responder cancelled by " .. ev.from .. " reason " .. ev.reason)
                return 0
            end
        else
            local msg = r.value
            local topic = msg:topic()
            if topic == "ping" then
                print("responder ping from " .. msg:from())
                process.send(msg:from(), "pong", msg:payload():data())
            elseif topic == "big" then
                local s = msg:payload():data()
                print("responder big " .. #s .. " " .. tostring(s == string.rep("x", #s)))
            elseif topic == "expect" then
                expected = msg:payload():data()
                done()
            elseif topic == "seq" then
                local from, n = msg:from(), msg:payload():data()
                local want = (last[from] or 0) + 1
                if n ~= want and not bad then
                    bad = "broken: " .. from .. " sent " .. n .. " after " .. want - 1
                end
                last[from] = n
                total = total + 1
                done()
            end
        end
    end
end }
