-- Receives from another node (tests/cluster/flow.sh): checks that the
-- numbered "seq" messages of each sender come complete and in order
-- ("order ok N" once the "expect"ed count came), checks the "big" message
-- against app:pattern and says how many "seq" messages came before it,
-- and says whether "pre" and "post" came before or after it. Lines go to
-- the log (stderr). Ends on a CANCEL.
return { main = function()
    local inbox, events = process.inbox(), process.events()
    local last, total, expected, bad = {}, 0, nil, nil
    local big_seen, before_big = false, 0
    local function done()
        if expected and total == expected then
            print("order " .. (bad or "ok") .. " " .. total)
        end
    end
    while true do
        local r = channel.select({ inbox:case_receive(), events:case_receive() })
        if r.channel == events then
            if r.value.kind == process.event.CANCEL then return 0 end
        else
            local msg = r.value
            local topic = msg:topic()
            if topic == "seq" then
                local d = msg:payload():data()
                local from, n = msg:from(), type(d) == "table" and d[1] or d
                local want = (last[from] or 0) + 1
                if n ~= want and not bad then
                    bad = "broken: " .. from .. " sent " .. tostring(n) .. " after " .. want - 1
                end
                last[from] = n
                total = total + 1
                if not big_seen then before_big = before_big + 1 end
                done()
            elseif topic == "expect" then
                expected = msg:payload():data()
                done()
            elseif topic == "big" then
                local s = msg:payload():data()
                print("sink big " .. #s .. " " .. tostring(s == pattern(#s)) .. " after " ..
                    before_big .. " small")
                big_seen = true
            elseif topic == "pre" or topic == "post" then
                print("sink " .. topic .. " after big " .. tostring(big_seen))
            end
        end
    end
end }
