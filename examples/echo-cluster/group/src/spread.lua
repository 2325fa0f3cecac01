-- A client that spreads echo requests over the relays of every node:
--   wippy run --node NAME --cluster URL -x app:terminal/app:spread [N] [RELAYS] [C]
-- waits until RELAYS relays (default 2) joined the group "relays", sends N
-- requests (default 1000), C at a time (default 16), to the relays in
-- turn, checks every answer, then asks each relay how many it handled and
-- prints the spread and this node's CPU per echo.
local function main()
    local args = io.args()
    local n, want, c = tonumber(args[1]) or 1000, tonumber(args[2]) or 2, tonumber(args[3]) or 16
    local inbox = process.inbox()
    local group = assert(pg.open("app:pg"))
    local sub, relays = group:monitor("relays")
    while #relays < want do -- the joins as they come (a bound, not a wait)
        local deadline = time.after("10s")
        local r = channel.select { sub:channel():case_receive(), deadline:case_receive() }
        if r.channel == deadline then
            io.print(string.format("only %d of %d relays joined", #relays, want))
            return 1
        end
        relays = group:get_members("relays")
    end
    sub:close()
    table.sort(relays)
    io.print(string.format("%d relays: %s", #relays, table.concat(relays, " ")))
    local cpu0 = os.clock()
    local sent, answered, bad, next_relay = 0, 0, 0, 1
    local function send_one()
        sent = sent + 1
        local relay = relays[next_relay]
        next_relay = next_relay % #relays + 1
        assert(process.send(relay, "echo", { sender = process.pid(), data = "echo " .. sent }))
    end
    while sent < math.min(c, n) do send_one() end
    while answered < n do
        local deadline = time.after("10s")
        local r = channel.select { inbox:case_receive(), deadline:case_receive() }
        if r.channel == deadline then
            io.print(string.format("timeout: %d of %d answered", answered, n))
            return 1
        end
        local msg = r.value
        if msg:topic() == "echo_response" then
            answered = answered + 1
            local resp = msg:payload():data()
            if not resp.data:match("^ECHO %d+$") then bad = bad + 1 end
            if sent < n then send_one() end
        end
    end
    local cpu = os.clock() - cpu0
    for _, relay in ipairs(relays) do process.send(relay, "count", process.pid()) end
    local counts = {}
    while #counts < #relays do
        local msg = inbox:receive()
        if msg:topic() == "count" then table.insert(counts, msg:payload():data()) end
    end
    table.sort(counts, function(a, b) return a.relay < b.relay end)
    local lo, hi = math.huge, 0
    for _, k in ipairs(counts) do
        io.print(string.format("relay %s handled %d", k.relay, k.n))
        lo, hi = math.min(lo, k.n), math.max(hi, k.n)
    end
    io.print(string.format("answered %d of %d, %d wrong", answered, n, bad))
    io.print(string.format("spread %s (%d to %d per relay)", hi - lo <= 1 and "even" or "uneven", lo, hi))
    io.print(string.format("cpu on this node: %.1f us per echo", cpu * 1e6 / n))
    return (answered == n and bad == 0) and 0 or 1
end

return { main = main }
