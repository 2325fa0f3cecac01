-- A node driven by tests/cluster/pg.sh, one command per stdin line; it
-- prints each outcome and then "done <line>". Lists of pids print sorted,
-- comma-separated ("-" for none).
--   join G / leave G        g:join(G) / g:leave(G) of this process
--   members G / local G     g:get_members(G) / g:get_local_members(G)
--   groups                  g:which_groups()
--   kid NAME G              a child joins G: "kid NAME PID"
--   kidstop NAME            the child ends: "exit NAME" once its EXIT came
--   bcast G TOPIC N         g:broadcast(G, TOPIC, N); a member that gets it
--   bcastlocal G TOPIC N    prints "got WHO TOPIC N FROM" (WHO: self or a
--                           kid's name); g:broadcast_local likewise
--   mon G                   g:monitor(G): "mon G snapshot PIDS", then one
--                           line "event G KIND PIDS" per event
--   events                  g:events(): "events snapshot G=PIDS;...", then
--                           "ev G KIND PIDS" per event
--   await G N               waits (on a monitor of G) until G has N
--                           members: "await G N ok", or "... timeout PIDS"
-- Messages, EXITs and subscriptions are handled by tasks of their own, so
-- the node keeps printing while it waits for the next line.
local g = pg.open("app:pg")

local function list(pids)
    local t = {}
    for i, p in ipairs(pids) do t[i] = p end
    table.sort(t)
    return #t > 0 and table.concat(t, ",") or "-"
end

local function follow(sub, fmt)
    coroutine.spawn(function()
        while true do
            local ev, ok = sub:channel():receive()
            if not ok then return end
            io.print(fmt(ev))
        end
    end)
end

local function await(group, n)
    local sub, members = g:monitor(group)
    local deadline = time.after("10s")
    while #members ~= n do
        local r = channel.select { sub:channel():case_receive(), deadline:case_receive() }
        if r.channel == deadline then break end
        members = g:get_members(group)
    end
    sub:close()
    if #members == n then
        io.print("await " .. group .. " " .. n .. " ok")
    else
        io.print("await " .. group .. " " .. n .. " timeout " .. list(members))
    end
end

return { main = function()
    local kids, names = {}, {}
    local inbox, events = process.inbox(), process.events()
    coroutine.spawn(function()
        while true do
            local r = channel.select { inbox:case_receive(), events:case_receive() }
            if r.channel == events then
                local ev = r.value
                if ev.kind == process.event.EXIT then
                    io.print("exit " .. (names[ev.from] or ev.from))
                end
            else
                local m = r.value
                local d = m:payload() and m:payload():data()
                if m:topic() == "kid" then
                    kids[d.name], names[d.pid] = d.pid, d.name
                    io.print("kid " .. d.name .. " " .. d.pid)
                elseif m:topic() == "kidgot" then
                    io.print("got " .. d.name .. " " .. d.topic .. " " .. tostring(d.data) ..
                        " " .. d.from)
                else
                    io.print("got self " .. m:topic() .. " " .. tostring(d) .. " " .. m:from())
                end
            end
        end
    end)
    io.print("pid " .. process.pid())
    io.print("ready")
    while true do
        local line = io.readline()
        if not line or line == "quit" then break end
        local cmd, a, b, c = line:match("^(%S+)%s*(%S*)%s*(%S*)%s*(%S*)")
        if cmd == "join" then
            show(line, g:join(a))
        elseif cmd == "leave" then
            show(line, g:leave(a))
        elseif cmd == "members" then
            io.print("members " .. a .. " " .. list(g:get_members(a)))
        elseif cmd == "local" then
            io.print("local " .. a .. " " .. list(g:get_local_members(a)))
        elseif cmd == "groups" then
            io.print("groups " .. list(g:which_groups()))
        elseif cmd == "kid" then
            process.spawn_monitored("app:pgkid", "app:processes", process.pid(), a, b)
        elseif cmd == "kidstop" then
            process.send(kids[a], "stop")
        elseif cmd == "bcast" then
            show(line, g:broadcast(a, b, tonumber(c)))
        elseif cmd == "bcastlocal" then
            show(line, g:broadcast_local(a, b, tonumber(c)))
        elseif cmd == "mon" then
            local sub, members = g:monitor(a)
            io.print("mon " .. a .. " snapshot " .. list(members))
            follow(sub, function(ev)
                return "event " .. ev.path .. " " .. ev.kind .. " " .. list(ev.data.PIDs)
            end)
        elseif cmd == "events" then
            local sub, snap = g:events()
            local parts = {}
            for group, pids in pairs(snap) do parts[#parts + 1] = group .. "=" .. list(pids) end
            table.sort(parts)
            io.print("events snapshot " .. table.concat(parts, ";"))
            follow(sub, function(ev)
                return "ev " .. ev.path .. " " .. ev.kind .. " " .. list(ev.data.PIDs)
            end)
        elseif cmd == "await" then
            await(a, tonumber(b))
        end
        io.print("done " .. line)
    end
    return 0
end }
