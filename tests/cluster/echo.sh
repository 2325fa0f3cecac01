#!/usr/bin/env bash
# The distributed echo service (examples/echo-cluster, issue 13 items 10
# and 12) on three nodes against a real nats-server: node b runs the relay
# and its workers, nodes a and c each run the tutorial's CLI; every line
# typed on a or c comes back in capitals from a worker of node b. Then its
# second form: a relay per node in a process group, a client spreading
# requests over them.
#
#   tests/cluster/echo.sh WIPPY_BINARY
#
# Prints "ok - <case>" / "not ok - <case>" and "N passed, N failed"; exits
# 1 if any case failed.
set -u

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

EXAMPLE=$REPO/examples/echo-cluster

# example_dir KEY PART: $TMPROOT/KEY holds the example's PART (relay or
# client), initialised.
example_dir() {
    local dir=$TMPROOT/$1
    rm -rf "$dir"
    mkdir -p "$dir"
    cp -r "$EXAMPLE/$2/src" "$dir/"
    (cd "$dir" && "$WIPPY" init >/dev/null 2>&1) || fail "wippy init failed in $dir"
    shown+=("$dir")
}

example_dir b relay
example_dir a client
example_dir c client
ENTRY=none start_node b --node b --cluster "$URL"
wait_match "$TMPROOT/b/err" 'relay started' 1 30 "${NODE_PID[b]}" || fail "the relay did not start"
for k in a c; do
    ENTRY=app:terminal/app:cli start_node "$k" --node "$k" --cluster "$URL"
done
for k in a c; do
    wait_match "$TMPROOT/$k/out" '> ' 1 30 "${NODE_PID[$k]}" || fail "no prompt on node $k"
done
# two lines from each CLI, sent at once: each answer names a worker of b
for k in a c; do
    printf 'hallo von %s\nschön\n' "$k" >&"${NODE_FD[$k]}"
done
for k in a c; do
    wait_match "$TMPROOT/$k/out" 'von worker: ' 2 30 "${NODE_PID[$k]}" ||
        fail "node $k: fewer than two answers"
    grep -aqF "HALLO VON ${k^^}" "$TMPROOT/$k/out" || fail "node $k: no 'HALLO VON ${k^^}'"
    grep -aqF "SCHÖN" "$TMPROOT/$k/out" || fail "node $k: no 'SCHÖN'"
    n=$(grep -acE 'von worker: \{b@app:processes\|0x[0-9a-f]{16}\}' "$TMPROOT/$k/out")
    [ "$n" -eq 2 ] || fail "node $k: $n answers from workers of node b, expected 2"
    grep -aq 'timeout\|fehler' "$TMPROOT/$k/out" && fail "node $k: a timeout or an error"
done
wait_match "$TMPROOT/b/err" 'worker exited' 4 30 "${NODE_PID[b]}" ||
    fail "node b did not log four worker exits"
report "the echo service across three nodes: CLIs on a and c, relay on b"

# An empty line ends each CLI (exit 0); SIGTERM stops node b cleanly.
for k in a c; do
    echo >&"${NODE_FD[$k]}"
    wait_pid "${NODE_PID[$k]}" 30 || fail "node $k did not end"
    [ "$WAIT_RC" -eq 0 ] || fail "node $k exited $WAIT_RC"
    forget_node "$k"
    grep -aq 'Auf Wiedersehen!' "$TMPROOT/$k/out" || fail "node $k: no goodbye"
done
kill -TERM "${NODE_PID[b]}"
wait_pid "${NODE_PID[b]}" 30 || fail "node b did not stop"
[ "$WAIT_RC" -eq 0 ] || fail "node b exited $WAIT_RC"
forget_node b
report "the CLIs end on an empty line; the relay node stops on SIGTERM"

# The second form: every node runs examples/echo-cluster/group, its relay
# in the process group "relays"; a client on one node spreads requests over
# both nodes' relays, round robin: every answer comes back and each relay
# handled half.
example_dir g1 group
example_dir g2 group
ENTRY=none start_node g1 --node g1 --cluster "$URL"
wait_match "$TMPROOT/g1/err" 'relay joined the group' 1 30 "${NODE_PID[g1]}" ||
    fail "g1's relay did not join"
ENTRY=app:terminal/app:spread start_node g2 --node g2 --cluster "$URL" -- 400 2 40
if wait_pid "${NODE_PID[g2]}" 60; then
    [ "$WAIT_RC" -eq 0 ] || fail "the spreading client exited $WAIT_RC"
else
    fail "the spreading client did not end"
fi
forget_node g2
grep -qxF "answered 400 of 400, 0 wrong" "$TMPROOT/g2/out" || fail "not every answer came back right"
grep -qxF "spread even (200 to 200 per relay)" "$TMPROOT/g2/out" || fail "the spread is not even"
for k in g1 g2; do
    grep -qE "^relay \{$k@app:processes\|0x[0-9a-f]{16}\} handled 200\$" "$TMPROOT/g2/out" ||
        fail "no relay of node $k handled 200"
done
kill -TERM "${NODE_PID[g1]}"
wait_pid "${NODE_PID[g1]}" 30 || fail "node g1 did not stop"
forget_node g1
report "the second form: a relay per node in a pg group, requests spread evenly"

echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
