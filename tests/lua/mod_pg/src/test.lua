-- mod_pg: process groups (spec 07 §7) on a standalone node, which is the
-- whole cluster: every call of the module, its errors, membership counts,
-- broadcast to members in other processes, monitor and events
-- subscriptions (in channel.select, closed, released) and members leaving
-- when their process ends. tests/cluster/pg.sh runs the same calls across
-- nodes.
local test, check, eq, same, fails = t.test, t.check, t.eq, t.same, t.fails

local me = process.pid()

-- Spawns a member (member.lua) that joins `groups`; returns its pid once
-- it has joined.
local function member(groups)
    local pid = process.spawn_monitored("app:member", "app:processes", me, groups)
    eq(t.expect_data("joined"), pid, "member joined")
    return pid
end

local function stop(pid)
    process.send(pid, "stop")
    t.wait_exit(pid)
end

local function sorted(list)
    table.sort(list)
    return list
end

-- The next event of subscription sub, which must be `kind` for `group`
-- with exactly `pids`.
local function expect_event(sub, kind, group, pids, what)
    local ev = t.recv(sub:channel())
    same(ev, {system = "pg", kind = kind, path = group, data = {Group = group, PIDs = pids}},
        what or kind)
    return ev
end

local function main()
    t.before_each(t.drain_inbox)

    test("module and pg.open", function()
        eq(require("pg"), pg, "require('pg')")
        eq(type(pg.open), "function", "pg.open")
        local g, err = pg.open("app:pg")
        eq(err, nil, "open: no error")
        eq(type(g), "userdata", "an instance")
        check(tostring(g):find("app:pg", 1, true), "tostring names the scope: " .. tostring(g))
        local g2 = pg.open("app:pg")
        check(g2 ~= g, "a new instance per open")
        fails(errors.NOT_FOUND, "pg scope app:nope not found", "unknown scope", pg.open("app:nope"))
        fails(errors.INVALID, "entry app:test is a process.lua, not a pg.scope", "not a scope",
            pg.open("app:test"))
        fails(errors.UNAVAILABLE, "pg scope app:idle is not started", "not started",
            pg.open("app:idle"))
        t.raises("string expected", "open(nil)", pg.open)
    end)

    local g = pg.open("app:pg")

    test("join and leave: the calling process, counted", function()
        eq(g:join("a"), true, "join a")
        same(g:get_members("a"), {me}, "members of a")
        same(g:get_local_members("a"), {me}, "local members of a")
        eq(g:join("a"), true, "join a again")
        same(g:get_members("a"), {me}, "listed once however many joins")
        eq(g:leave("a"), true, "leave a (once of two)")
        same(g:get_members("a"), {me}, "still a member")
        eq(g:leave("a"), true, "leave a (twice of two)")
        same(g:get_members("a"), {}, "no longer a member")
        fails(errors.INVALID, "not a member of group a", "leave a third time", g:leave("a"))
        fails(errors.INVALID, "not a member of group never", "leave a group never joined",
            g:leave("never"))
    end)

    test("join and leave a list: all or none", function()
        eq(g:join({"b", "c"}), true, "join b and c")
        same(sorted(g:which_local_groups()), {"b", "c"}, "local groups")
        fails(errors.INVALID, "not a member of group x", "leave b and x", g:leave({"b", "x"}))
        same(g:get_members("b"), {me}, "b not left")
        eq(g:join({"d", "d"}), true, "join d twice in one call")
        fails(errors.INVALID, "not a member of group d", "leave d three times",
            g:leave({"d", "d", "d"}))
        eq(g:leave({"d", "d"}), true, "leave d twice")
        eq(g:leave({"b", "c"}), true, "leave b and c")
        same(g:which_groups(), {}, "no groups left")
        same(g:which_local_groups(), {}, "no local groups left")
    end)

    test("bad group names", function()
        fails(errors.INVALID, "group name cannot be empty", "join ''", g:join(""))
        fails(errors.INVALID, "a name or an array of names", "join 5", g:join(5))
        fails(errors.INVALID, "no group names given", "join {}", g:join({}))
        fails(errors.INVALID, "group name must be a string", "join {'ok', 5}", g:join({"ok", 5}))
        same(g:get_members("ok"), {}, "ok not joined by the refused list")
        fails(errors.INVALID, "too long", "join a long name", g:join(string.rep("n", 257)))
        eq(g:join(string.rep("n", 256)), true, "256 bytes is fine")
        eq(g:leave(string.rep("n", 256)), true, "and leaves")
        fails(errors.INVALID, "group name must be a string", "get_members(nil)", g:get_members())
        local s, m, err = g:monitor("")
        eq(s, nil, "monitor(''): no subscription")
        eq(m, nil, "monitor(''): no members")
        t.errkind(err, errors.INVALID, "group name cannot be empty", "monitor('')")
    end)

    test("unknown groups are empty; scopes are apart", function()
        same(g:get_members("nobody"), {}, "get_members")
        same(g:get_local_members("nobody"), {}, "get_local_members")
        local o = pg.open("app:other")
        eq(o:join("a"), true, "join a in app:other")
        same(o:get_members("a"), {me}, "a of app:other")
        same(g:get_members("a"), {}, "a of app:pg")
        same(g:which_groups(), {}, "groups of app:pg")
        same(o:which_groups(), {"a"}, "groups of app:other")
        eq(o:leave("a"), true, "leave a in app:other")
    end)

    test("members of other processes; a member's end leaves its groups", function()
        local p1 = member({"w", "x"})
        local p2 = member("w")
        same(sorted(g:get_members("w")), sorted({p1, p2}), "members of w")
        same(g:get_members("x"), {p1}, "members of x")
        same(g:get_local_members("w"), g:get_members("w"), "all local here")
        same(sorted(g:which_groups()), {"w", "x"}, "which_groups")
        same(sorted(g:which_local_groups()), {"w", "x"}, "which_local_groups")
        stop(p1) -- its EXIT comes after it left every group
        same(g:get_members("w"), {p2}, "w after p1 ended")
        same(g:get_members("x"), {}, "x after p1 ended")
        stop(p2)
        same(g:which_groups(), {}, "no groups")
    end)

    test("broadcast reaches every member, from the caller", function()
        local p1, p2 = member("bc"), member({"bc", "other"})
        eq(g:broadcast("bc", "hello", 1, "two"), true, "broadcast")
        local got = {}
        for _ = 1, 2 do
            local d = t.expect_data("got")
            eq(d.topic, "hello", "topic")
            same(d.data, {1, "two"}, "payload")
            eq(d.from, me, "from the caller")
            got[#got + 1] = d.me
        end
        same(sorted(got), sorted({p1, p2}), "both members got it")
        eq(g:broadcast_local("bc", "local", {k = "v"}), true, "broadcast_local")
        for _ = 1, 2 do
            local d = t.expect_data("got")
            eq(d.topic, "local", "topic")
            same(d.data, {k = "v"}, "payload")
        end
        eq(g:broadcast("nobody", "x"), true, "to a group without members")
        fails(errors.INVALID, "cannot send to @ topics", "@ topic", g:broadcast("bc", "@x"))
        t.nothing(process.inbox(), "no further message")
        stop(p1)
        stop(p2)
    end)

    test("the caller, a member itself, gets its own broadcast", function()
        eq(g:join("self"), true, "join")
        eq(g:broadcast("self", "me", 7), true, "broadcast")
        eq(t.expect_data("me"), 7, "own broadcast")
        eq(g:leave("self"), true, "leave")
    end)

    test("monitor: snapshot, joins, leaves, an end; channel.select", function()
        local p1 = member("m")
        local sub, members, err = g:monitor("m")
        eq(err, nil, "monitor: no error")
        same(members, {p1}, "snapshot")
        local p2 = member("m")
        expect_event(sub, "member.joined", "m", {p2}, "p2 joined")
        eq(g:join("m"), true, "this process joins")
        expect_event(sub, "member.joined", "m", {me}, "me joined")
        eq(g:join("m"), true, "joins again: counted, no event")
        eq(g:leave("m"), true, "leaves once: still a member, no event")
        t.nothing(sub:channel(), "no event for a counted join or leave")
        eq(g:leave("m"), true, "leaves")
        expect_event(sub, "member.left", "m", {me}, "me left")
        process.send(p2, "leave")
        eq(t.expect_data("left"), p2, "p2 left")
        expect_event(sub, "member.left", "m", {p2}, "p2 left")
        -- an end, through channel.select with another channel
        stop(p1)
        local deadline = time.after("10s")
        local r = channel.select({sub:channel():case_receive(), deadline:case_receive()})
        check(r.channel == sub:channel(), "select picked the subscription")
        same(r.value.data, {Group = "m", PIDs = {p1}}, "p1 left at its end")
        eq(r.value.kind, "member.left", "kind")
        -- other groups are not this subscription's
        eq(g:join("elsewhere"), true, "join another group")
        eq(g:leave("elsewhere"), true, "leave it")
        t.nothing(sub:channel(), "no event of another group")
        eq(sub:close(), true, "close")
        eq(sub:close(), true, "close again")
        local v, ok = t.recv(sub:channel())
        eq(v, nil, "closed channel: nil")
        eq(ok, false, "closed channel: not ok")
        eq(g:join("m"), true, "a join after close")
        eq(g:leave("m"), true, "and a leave")
        t.nothing(process.inbox(), "nothing of the closed subscription in the inbox")
    end)

    test("events: every group, with a snapshot of all", function()
        local p1 = member({"e1", "e2"})
        local sub, snap, err = g:events()
        eq(err, nil, "events: no error")
        same(snap, {e1 = {p1}, e2 = {p1}}, "snapshot")
        eq(g:join({"e2", "e3"}), true, "join e2 and e3")
        local seen = {}
        for _ = 1, 2 do
            local ev = t.recv(sub:channel())
            eq(ev.kind, "member.joined", "kind")
            same(ev.data.PIDs, {me}, "pids")
            seen[#seen + 1] = ev.path
        end
        same(sorted(seen), {"e2", "e3"}, "both groups")
        stop(p1)
        seen = {}
        for _ = 1, 2 do
            local ev = t.recv(sub:channel())
            eq(ev.kind, "member.left", "kind")
            same(ev.data.PIDs, {p1}, "pids")
            seen[#seen + 1] = ev.path
        end
        same(sorted(seen), {"e1", "e2"}, "p1's groups")
        eq(g:leave({"e2", "e3"}), true, "leave")
        sub:close()
    end)

    test("release: the instance's subscriptions end, later calls fail", function()
        local h = pg.open("app:pg")
        local sub = h:monitor("r")
        local all = h:events()
        eq(h:join("r"), true, "join through h")
        expect_event(sub, "member.joined", "r", {me}, "joined")
        eq(h:release(), true, "release")
        eq(h:release(), true, "release again")
        eq(select(2, t.recv(sub:channel())), false, "monitor channel closed")
        -- the join's event, not received before the close, is dropped with it
        eq(select(2, t.recv(all:channel())), false, "events channel closed")
        fails(errors.INVALID, "pg instance released", "join after release", h:join("r"))
        fails(errors.INVALID, "pg instance released", "get_members", h:get_members("r"))
        local s, m, err = h:monitor("r")
        eq(s, nil, "monitor after release: no subscription")
        eq(m, nil, "monitor after release: no members")
        t.errkind(err, errors.INVALID, "pg instance released", "monitor after release")
        fails(errors.INVALID, "pg instance released", "broadcast", h:broadcast("r", "x"))
        same(g:get_members("r"), {me}, "the membership is the process's: it stays")
        eq(g:leave("r"), true, "leave through another instance")
    end)

    return t.finish()
end

return { main = main }
