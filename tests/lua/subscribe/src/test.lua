-- subscribe(topic, ch) / unsubscribe(ch) (spec 05 §1): raw values of one
-- topic go into a channel of ours; messages that arrived earlier are kept.
local function main()
    local me = process.pid()
    local ch = channel.new(4)

    t.test("messages before subscribe are kept and delivered raw", function()
        process.send(me, "t", "early")
        t.eq(subscribe("t", ch), true, "subscribe")
        process.send(me, "t", 1, 2)
        t.eq(t.recv(ch), "early", "first value")
        local two = t.recv(ch)
        t.eq(type(two), "table", "two values arrive as a list")
        t.eq(two[1], 1, "first of two")
        t.eq(two[2], 2, "second of two")
    end)

    t.test("other topics still go to the inbox", function()
        process.send(me, "other", "x")
        local m = t.recv(process.inbox())
        t.eq(m:topic(), "other", "topic")
    end)

    t.test("subscribe errors", function()
        t.fails(errors.ALREADY_EXISTS, "already", "topic taken", subscribe("t", channel.new()))
        t.fails(errors.INVALID, "@", "@ topic", subscribe("@x", channel.new()))
        t.fails(errors.INVALID, "empty", "empty topic", subscribe("", channel.new()))
        t.raises(nil, "not a channel", function() subscribe("z", "not a channel") end)
    end)

    t.test("unsubscribe hands the topic back to the inbox", function()
        t.eq(unsubscribe(ch), true, "unsubscribe")
        t.eq(unsubscribe(ch), false, "second unsubscribe")
        process.send(me, "t", "after")
        local m = t.recv(process.inbox())
        t.eq(m:topic(), "t", "topic")
        t.eq(m:payload():data(), "after", "value")
    end)
    return t.finish()
end
return { main = main }
