#!/usr/bin/env bash
# Process groups across the cluster against a real nats-server (issue 13
# item 8, spec 07 §7): joins on three nodes seen alike on each, broadcast
# reaching every member on every node, monitor and events subscriptions
# hearing joins and leaves, a member's end, a leave of a group not joined
# (Invalid), a node killed with kill -9 (its members leave within
# down_after + 1 s, the leader empties its entries), and groups surviving a
# restart of nats-server.
#
#   tests/cluster/pg.sh WIPPY_BINARY
#
# Each node runs app:pgnode (tests/cluster/app/src/pgnode.lua), driven one
# command per line on its stdin; it prints each outcome and "done <line>".
# Prints "ok - <case>" / "not ok - <case>" and "N passed, N failed"; exits
# 1 if any case failed.
set -u

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

export ENTRY=app:pgnode

# sorted PID...: the pids as pgnode lists them.
sorted() { printf '%s\n' "$@" | sort | paste -sd, -; }
# await KEY GROUP N: the node saw GROUP reach N members.
await() {
    run "$1" "await $2 $3"
    has "$1" "await $2 $3 ok"
}
# line_wait KEY LINE [SECONDS]: the node prints LINE (whole).
line_wait() {
    wait_match "${NODE_DIR[$1]}/out" "^$(re "$2")\$" 1 "${3:-10}" "${NODE_PID[$1]}" ||
        fail "$1: no line: $2"
}

start_node na --node a --cluster "$URL" "${FAST[@]}"
start_node nb --node b --cluster "$URL" "${FAST[@]}"
start_node nc --node c --cluster "$URL" "${FAST[@]}"
for k in na nb nc; do wait_ready "$k" 30 || fail "node $k not ready"; done
PA=$(pid_of na pid) PB=$(pid_of nb pid) PC=$(pid_of nc pid)

# Joins on every node: the node processes of a and c, a child on b and one
# on c. Each node's monitor hears every join; get_members agrees
# everywhere, get_local_members is each node's own.
run na "mon work"
has na "mon work snapshot -"
run nb "events"
has nb "events snapshot "
run na "join work"
has na "join work true"
run nb "kid k1 work"
wait_match "$TMPROOT/nb/out" '^kid k1 [{]' 1 10 "${NODE_PID[nb]}" || fail "k1 did not join"
K1=$(pid_of nb "kid k1")
run nc "kid k2 work"
wait_match "$TMPROOT/nc/out" '^kid k2 [{]' 1 10 "${NODE_PID[nc]}" || fail "k2 did not join"
K2=$(pid_of nc "kid k2")
run nc "join work"
has nc "join work true"
ALL=$(sorted "$PA" "$K1" "$K2" "$PC")
for k in na nb nc; do
    await "$k" work 4
    run "$k" "members work"
    has "$k" "members work $ALL"
    run "$k" "groups"
    has "$k" "groups work"
done
run na "local work"
has na "local work $PA"
run nb "local work"
has nb "local work $K1"
run nc "local work"
has nc "local work $(sorted "$K2" "$PC")"
for p in "$PA" "$K1" "$K2" "$PC"; do line_wait na "event work member.joined $p"; done
for p in "$PA" "$K1" "$K2" "$PC"; do line_wait nb "ev work member.joined $p"; done
report "joins on three nodes: every node sees the same members; monitor and events hear them"

# Broadcast from a reaches every member on every node, from a's process;
# broadcast_local on c only c's.
run na "bcast work hi 42"
has na "bcast work hi 42 true"
line_wait na "got self hi 42 $PA"
line_wait nb "got k1 hi 42 $PA"
line_wait nc "got k2 hi 42 $PA"
line_wait nc "got self hi 42 $PA"
run nc "bcastlocal work here 7"
has nc "bcastlocal work here 7 true"
line_wait nc "got k2 here 7 $PC"
line_wait nc "got self here 7 $PC"
run na "bcast work again 1" # after the local one: a and b saw nothing of it
line_wait nb "got k1 again 1 $PA"
grep -q "^got .* here " "$TMPROOT/na/out" "$TMPROOT/nb/out" && fail "broadcast_local left node c"
report "broadcast reaches every member on every node; broadcast_local stays on its node"

# Leaving: c's process leaves (every node hears it); leaving again, a
# group not joined, is Invalid; a child's end leaves its group.
run nc "leave work"
has nc "leave work true"
line_wait na "event work member.left $PC"
run nc "leave work"
has nc "leave work nil Invalid not a member of group work"
run nb "leave work"
has nb "leave work nil Invalid not a member of group work"
for k in na nb nc; do await "$k" work 3; done
run nb "kidstop k1"
line_wait nb "exit k1"
line_wait na "event work member.left $K1"
line_wait nb "ev work member.left $K1"
for k in na nb nc; do
    await "$k" work 2
    run "$k" "members work"
    has "$k" "members work $(sorted "$PA" "$K2")"
done
report "leave and a member's end are heard everywhere; leave of a group not joined is Invalid"

# kill -9 of node c: its member k2 leaves on a and b within down_after
# (500ms here) + 1s, and the leader (a) empties c's entry.
T0=$(date +%s%N)
kill -KILL "${NODE_PID[nc]}"
wait "${NODE_PID[nc]}" 2>/dev/null
forget_node nc
if wait_match "$TMPROOT/na/out" "^event work member\.left $(re "$K2")\$" 1 10 "${NODE_PID[na]}"; then
    MS=$((($(date +%s%N) - T0) / 1000000))
    [ "$MS" -le $((FAST_DOWN_MS + 1000)) ] || fail "k2 left a's group $MS ms after kill -9 (limit $((FAST_DOWN_MS + 1000)))"
    echo "    # the killed node's member left a's group $MS ms after kill -9 (down_after ${FAST_DOWN_MS}ms)"
else
    fail "the killed node's member did not leave a's group"
fi
line_wait nb "ev work member.left $K2"
wait_match "$TMPROOT/na/err" "released the pg members of c in group work, which is gone" 1 10 \
    "${NODE_PID[na]}" || fail "the leader a did not empty c's entry"
for k in na nb; do
    await "$k" work 1
    run "$k" "members work"
    has "$k" "members work $PA"
done
report "kill -9 of a node: its members leave within down_after + 1s; the leader reaps"

# NATS restarts: the nodes reconnect and watch again; the groups are still
# there, and new joins travel again.
stop_nats na nb
restart_nats na nb
run nb "join after"
has nb "join after true"
await na after 1
run na "members after"
has na "members after $PB"
run nb "members work"
has nb "members work $PA"
report "after a restart of nats-server groups are intact and joins travel"

quit_nodes na nb
report "nodes stop cleanly"

echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
