#!/usr/bin/env bash
# Cluster-wide names against a real nats-server (issue 13 item 7, spec 07
# §2): a race for one CONSISTENT name, lookups and sends by name across
# nodes, LOCAL refused for a cluster name, unregister rules, EVENTUAL and
# STRONG, release at the holder's end, the leader reaping a killed node's
# names, register while NATS is down, names surviving a restart of
# nats-server, and a name a failed STRONG register left pending.
#
#   tests/cluster/names.sh WIPPY_BINARY
#
# Each node runs app:names (tests/cluster/app/src/names.lua), driven one
# command per line on its stdin; it prints each outcome and "done <line>".
# Prints "ok - <case>" / "not ok - <case>" and "N passed, N failed"; exits
# 1 if any case failed.
set -u

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

export ENTRY=app:names

start_node na --node a --cluster "$URL" "${FAST[@]}"
start_node nb --node b --cluster "$URL" "${FAST[@]}"
start_node nc --node c --cluster "$URL" "${FAST[@]}"
for k in na nb nc; do wait_ready "$k" 30 || fail "node $k not ready"; done
PA=$(pid_of na pid) PB=$(pid_of nb pid) PC=$(pid_of nc pid)

# Three nodes race for one CONSISTENT name: exactly one wins, the others
# get AlreadyExists, and every node's lookup names the winner.
for k in na nb nc; do send "$k" "reg race CONSISTENT"; done
for k in na nb nc; do done_wait "$k" "reg race CONSISTENT"; done
won=$(grep -lxF "reg race CONSISTENT true" "$TMPROOT"/n{a,b,c}/out | wc -l)
lost=$(grep -lxF "reg race CONSISTENT nil AlreadyExists name already registered" \
    "$TMPROOT"/n{a,b,c}/out | wc -l)
[ "$won" -eq 1 ] && [ "$lost" -eq 2 ] || fail "race: $won won, $lost lost (1 and 2 expected)"
WIN=
for k in na nb nc; do
    if grep -qxF "reg race CONSISTENT true" "$TMPROOT/$k/out"; then WIN=$k; fi
done
WPID=$(pid_of "${WIN:-na}" pid)
for k in na nb nc; do
    run "$k" "lookup race"
    has "$k" "lookup race $WPID"
done
report "nodes racing for a CONSISTENT name: one wins, all agree on the owner"

# A send by cluster name reaches the holder on its node; its reply comes back.
LOSER=nb
[ "$WIN" = nb ] && LOSER=nc
run "$LOSER" "ping race"
has "$LOSER" "ping race true"
wait_match "${NODE_DIR[$LOSER]}/out" "^pong $(re "$WPID")\$" 1 30 "${NODE_PID[$LOSER]}" ||
    fail "no pong from the holder of race"
report "send by a cluster name crosses to the holder's node"

# LOCAL refuses a name another process holds in a cluster scope; only the
# holder's own unregister in the right scope removes it; then it is free.
run "$LOSER" "reg race LOCAL"
has "$LOSER" "reg race LOCAL nil AlreadyExists name already registered in a cluster scope"
run "$LOSER" "unreg race CONSISTENT"
has "$LOSER" "unreg race CONSISTENT false"
run "$WIN" "unreg race EVENTUAL"
has "$WIN" "unreg race EVENTUAL false"
run "$WIN" "unreg race CONSISTENT"
has "$WIN" "unreg race CONSISTENT true"
run "$WIN" "lookup race"
has "$WIN" "lookup race nil NotFound name not registered"
run "$LOSER" "reg race CONSISTENT"
has "$LOSER" "reg race CONSISTENT true"
report "LOCAL refused for a cluster name; unregister only by the holder, in its scope"

# EVENTUAL: first writer wins too; STRONG: registered once every live node
# acknowledged it, then held against the others.
run na "reg ev EVENTUAL"
has na "reg ev EVENTUAL true"
run nb "reg ev EVENTUAL"
has nb "reg ev EVENTUAL nil AlreadyExists name already registered"
run na "reg st STRONG"
has na "reg st STRONG true"
run nc "reg st STRONG"
has nc "reg st STRONG nil AlreadyExists name already registered"
run na "reg st STRONG"
has na "reg st STRONG true" # again by its holder: still true
report "EVENTUAL and STRONG names: first writer wins"

# A process's end releases its names before its EXIT goes out: the parent,
# registering the name on that EXIT, finds it free (no takeover).
run na "kid k1"
wait_match "$TMPROOT/na/out" '^kid k1 ok$' 1 30 "${NODE_PID[na]}" || fail "the kid did not register k1"
run nc "reg k1 CONSISTENT"
has nc "reg k1 CONSISTENT nil AlreadyExists name already registered"
run na kidstop
wait_match "$TMPROOT/na/out" '^exit ' 1 30 "${NODE_PID[na]}" || fail "no EXIT of the kid"
run na "reg k1 CONSISTENT"
has na "reg k1 CONSISTENT true"
grep -q 'name k1 taken over' "$TMPROOT/na/err" && fail "k1 was taken over, not released"
report "a process's end releases its cluster names"

# A monitor on another node that registers the name on its holder's EXIT
# gets it, whether or not the holder's release has landed yet (the holding
# node says its process ended).
run na "kid k3"
wait_match "$TMPROOT/na/out" '^kid k3 ok$' 1 30 "${NODE_PID[na]}" || fail "the kid did not register k3"
run nc "mon k3"
has nc "mon k3 true"
run nc "onexit k3"
run na kidstop
wait_match "$TMPROOT/nc/out" '^onexit k3 ' 1 30 "${NODE_PID[nc]}" ||
    fail "c's monitor of k3's holder did not fire"
has nc "onexit k3 true"
report "a monitor on another node takes the name over on its holder's EXIT"

# kill -9 of node a: the leader (b, the smallest live name) releases a's
# names once a is departed; they can be registered again. A monitor set
# through a cluster name (a process of a) fires.
run nc "mon ev"
has nc "mon ev true"
kill -KILL "${NODE_PID[na]}"
wait "${NODE_PID[na]}" 2>/dev/null
forget_node na
for n in ev st k1; do
    wait_match "$TMPROOT/nb/err" "released name $n of a, which is gone" 1 10 "${NODE_PID[nb]}" ||
        fail "b did not release $n of the killed node a"
done
wait_match "$TMPROOT/nc/out" "^exit $(re "$PA")\$" 1 10 "${NODE_PID[nc]}" ||
    fail "c's monitor of ev (held on a) did not fire"
run nc "lookup ev"
has nc "lookup ev nil NotFound name not registered"
run nc "reg ev EVENTUAL"
has nc "reg ev EVENTUAL true"
report "the leader releases a killed node's names; a monitor by name fires"

# NATS down: register is Unavailable at once; a restarted server (same
# port and store) gets the nodes back, names survive, and a new STRONG
# name needs the other live node's re-created watch.
stop_nats nb nc
run nb "reg down CONSISTENT"
grep -qE '^reg down CONSISTENT nil Unavailable cluster unavailable' "$TMPROOT/nb/out" ||
    fail "register with NATS down: not Unavailable 'cluster unavailable'"
restart_nats nb nc
run nb "lookup race"
has nb "lookup race $(pid_of "$LOSER" pid)"
run nc "reg after STRONG"
has nc "reg after STRONG true"
run nb "reg after CONSISTENT"
has nb "reg after CONSISTENT nil AlreadyExists name already registered"
report "NATS down: register Unavailable; after its restart names survive and work"

# SIGSTOP shorter than down_after (default timings: 3 s): nothing fires
# and what was sent meanwhile arrives, in order, once the node goes on.
start_node nd --node d --cluster "$URL"
start_node ne --node e --cluster "$URL"
for k in nd ne; do wait_ready "$k" 30 || fail "node $k not ready"; done
PD=$(pid_of nd pid)
run ne "mon $PD"
has ne "mon $PD true"
kill -STOP "${NODE_PID[nd]}"
run ne "seq $PD 5"
has ne "seq $PD 5 true"
sleep 1 # the one sleep: holding the node stopped for less than down_after
kill -CONT "${NODE_PID[nd]}"
wait_match "$TMPROOT/nd/out" '^num 5$' 1 30 "${NODE_PID[nd]}" || fail "d did not get 5 numbers"
[ "$(grep '^num ' "$TMPROOT/nd/out" | tr '\n' ' ')" = "num 1 num 2 num 3 num 4 num 5 " ] ||
    fail "d got: $(grep '^num ' "$TMPROOT/nd/out" | tr '\n' ' ')"
grep -q '^exit ' "$TMPROOT/ne/out" && fail "e's monitor of d fired"
grep -q 'departed\|lost its membership' "$TMPROOT/ne/err" "$TMPROOT/nd/err" &&
    fail "a short pause departed a node"
report "SIGSTOP shorter than down_after: nothing fires, messages arrive in order"

# SIGSTOP longer than down_after (c, fast timings): b marks c departed and
# its monitor of c fires; once resumed, c finds itself departed: it tells
# its name holders their names are revoked and rejoins under a new
# incarnation, and its processes are reachable again.
run nb "mon $PC"
has nb "mon $PC true"
kill -STOP "${NODE_PID[nc]}"
wait_match "$TMPROOT/nb/out" "^exit $(re "$PC")\$" 1 10 "${NODE_PID[nb]}" ||
    fail "b's monitor of the paused c did not fire"
grep -q 'marked node c (incarnation 1) departed' "$TMPROOT/nb/err" ||
    fail "b did not mark c departed"
kill -CONT "${NODE_PID[nc]}"
wait_match "$TMPROOT/nc/err" 'node c rejoined as incarnation' 1 10 "${NODE_PID[nc]}" ||
    fail "c did not rejoin"
grep -q 'node c lost its membership: the cluster departed it' "$TMPROOT/nc/err" ||
    fail "c did not say it was departed"
for n in ev after; do
    grep -qxF "cancel {|topology} name revoked: $n" "$TMPROOT/nc/out" ||
        fail "c's holder of $n was not told its name was revoked"
done
run nc "reg ev EVENTUAL"
has nc "reg ev EVENTUAL true"
run nb "ping $PC"
wait_match "$TMPROOT/nb/out" "^pong $(re "$PC")\$" 1 10 "${NODE_PID[nb]}" ||
    fail "no pong from c after it rejoined"
report "SIGSTOP past down_after: departed, fenced, names revoked, rejoined"

# A STRONG register whose release is lost leaves the name pending under a
# live holder. The test setting on node s makes its confirmation fail at
# once and skips its release, as if lost; node s's own sweep then releases
# the name, and another node can take it.
WIPPY_TEST_NAMES_LOSE_STRONG=1 start_node ns --node s --cluster "$URL" "${FAST[@]}"
wait_ready ns 30 || fail "node s not ready"
run ns "reg lost STRONG"
grep -q '^reg lost STRONG nil ' "$TMPROOT/ns/out" || fail "s: the lost STRONG register did not fail"
wait_match "$TMPROOT/ns/err" 'released name lost, left pending by a STRONG register' 1 15 \
    "${NODE_PID[ns]}" || fail "s did not release the name its failed register left pending"
run nb "reg lost CONSISTENT"
has nb "reg lost CONSISTENT true"
report "a STRONG register's lost release: the name left pending is released by its node"

quit_nodes nb nc nd ne ns
report "nodes stop cleanly"

echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
