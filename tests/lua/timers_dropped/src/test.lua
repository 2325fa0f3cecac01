-- ---- test helpers: the shared library app:testing (tests/lua/lib/testing.lua),
-- imported as `t`; local aliases keep the call sites short
local test, check, finish = t.test, t.check, t.finish
-- ----------------------------------------------------------------------
-- Timers whose channels nobody keeps (the time.after of a select that the
-- other case won) fire while their channels are garbage not yet finalized.
-- Delivering the fired value allocates, and a collection step run by that
-- allocation may finalize the very channel being fired, whose finalizer
-- frees the timer: the runtime read and freed it again (a crash in the
-- release build, a use-after-free under ASan). Thousands of them fire
-- together here, so collections run in the middle of the deliveries.
local time = require("time")

local ROUNDS, PER_ROUND = 10, 2000

local function main()
    -- a heap past the size at which the runtime starts the collector
    local keep = {}
    for i = 1, 5000 do keep[i] = { i } end

    test("dropped time.after channels fire while the collector runs", function()
        for _ = 1, ROUNDS do
            for _ = 1, PER_ROUND do time.after("1ms") end
            time.sleep("5ms") -- they fire (and are delivered) meanwhile
        end
        check(#keep == 5000, "the process carried on")
    end)

    test("dropped tickers tick while the collector runs", function()
        for _ = 1, ROUNDS do
            for _ = 1, PER_ROUND // 4 do time.ticker("1ms") end
            time.sleep("5ms")
        end
        check(#keep == 5000, "the process carried on")
    end)

    test("a select's lost timeout, many times over", function()
        local ch = channel.new(1)
        local won = 0
        for _ = 1, ROUNDS * PER_ROUND do
            ch:send(true)
            local r = channel.select { ch:case_receive(), time.after("1ms"):case_receive() }
            if r.channel == ch then won = won + 1 end
        end
        check(won == ROUNDS * PER_ROUND, "the ready channel won every select: " .. won)
        time.sleep("5ms") -- the lost timeouts fire
    end)
    return finish()
end
return { main = main }
