#!/usr/bin/env bash
# Flow control and splitting across nodes against a real nats-server
# (issue 13 items 4 and 12): a 5 MB message arrives whole while small
# messages of another sender overtake it, many senders' numbered messages
# arrive complete and in order per sender (1M in the release build,
# WIPPY_CLUSTER_MSGS under the sanitizers), a slow receiver makes the
# sender hold frames back (counted) while `send` returns at once, and a
# forced slow consumer is a session loss that fires a monitor across and
# gives up a split message on both sides, counted. A case with a tiny
# window makes it shut and open thousands of times.
#
#   tests/cluster/flow.sh WIPPY_BINARY
#
# The test knobs of cluster/transport.c make a receiver slow
# (WIPPY_CLUSTER_TEST_SLOW_MS: it takes one batch per that many ms,
# while the rest pile up in libnats), its libnats pending limit tiny
# (WIPPY_CLUSTER_TEST_PENDING, bytes) or the window small
# (WIPPY_CLUSTER_TEST_WINDOW, bytes). Each node runs app:flow
# (tests/cluster/app/src/flow.lua).
# Everything waits on output lines or exits; timeouts are only failure
# bounds. Prints "ok - <case>" / "not ok - <case>" and "N passed, N
# failed"; exits 1 if any case failed.
set -u

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

export ENTRY=app:flow

# has KEY LINE: the node printed LINE whole on stdout.
has() { grep -qxF -- "$2" "${NODE_DIR[$1]}/out" || fail "$1: no line: $2"; }
# logged KEY REGEX: the node's log (stderr) has a line matching REGEX.
logged() { grep -qE -- "$2" "${NODE_DIR[$1]}/err" || fail "$1: no log line matching: $2"; }
# stopped KEY: stops the node, which must exit 0.
stopped() {
    stop_node "$1"
    [ "$WAIT_RC" -eq 0 ] || fail "$1 exited $WAIT_RC"
}

# A 5,000,000-byte message (five fragments) from fa's terminal process to
# a sink on fb, between a "pre" and a "post" from the same process; then
# ten small messages from another process of fa, sent after the big one
# was. fb takes one batch per 100 ms, so the big message
# takes several round trips of its window to go (fragments may fill only
# half of it, and the last one waits for an ack, so for two slow batches):
# the small ones, sent after it began, must reach the sink before it is
# complete, and pre/post keep their order around it.
WIPPY_CLUSTER_TEST_SLOW_MS=100 start_node fb --node fb --cluster "$URL"
if wait_ready fb 30; then
    start_node fa --node fa --cluster "$URL" -- big "$(pid_of fb sink1)"
    if wait_ready fa 60; then
        for l in "expect true" "pre true" "big true" "post true"; do has fa "$l"; done
        wait_match "$TMPROOT/fb/err" "sink post " 1 60 "${NODE_PID[fb]}" ||
            fail "the message after the big one did not arrive"
        wait_match "$TMPROOT/fb/err" "order [a-z]+" 1 30 "${NODE_PID[fb]}" ||
            fail "the small messages did not all arrive"
        logged fb "sink pre after big false"
        logged fb "sink post after big true"
        logged fb "order ok 10"
        K=$(sed -n 's/.*sink big 5000000 true after \([0-9]*\) small.*/\1/p' "$TMPROOT/fb/err")
        if [ -z "$K" ]; then
            fail "the big message did not arrive whole: $(grep -o 'sink big.*small' "$TMPROOT/fb/err")"
        elif [ "$K" -lt 1 ]; then
            fail "no small message overtook the big one: they were stalled behind it"
        else
            echo "    # $K of 10 small messages sent after the 5 MB one arrived before it"
        fi
        stopped fa
        logged fa "transport: .* 0 publish errors, 0 session losses; .* split 1 out, 0 in, 0 lost"
    else
        fail "node fa not ready"
    fi
    stopped fb
    logged fb "transport: .* 0 stale, 0 malformed; 0 publish errors, 0 session losses; .* split 0 out, 1 in, 0 lost"
else
    fail "node fb not ready"
fi
report "a 5 MB message arrives whole and in order; small ones sent after it overtake it"

# Numbered messages from 8 senders on oa to two sinks on ob arrive
# complete and in order per sender (1M in the release build).
MSGS=${WIPPY_CLUSTER_MSGS:-1000000}
SENDERS=8
start_node ob --node ob --cluster "$URL"
if wait_ready ob 30; then
    T0=$(date +%s%N)
    start_node oa --node oa --cluster "$URL" -- seq "$SENDERS" $((MSGS / SENDERS)) 0 \
        "$(pid_of ob sink1)" "$(pid_of ob sink2)"
    if wait_ready oa 300; then
        has oa "sent $MSGS"
        if wait_match "$TMPROOT/ob/err" "order [a-z]+" 2 300 "${NODE_PID[ob]}"; then
            MS=$((($(date +%s%N) - T0) / 1000000))
            echo "    # $MSGS messages across in $MS ms (node start included)"
        else
            fail "the sinks did not get all $MSGS messages"
        fi
        [ "$(grep -c "order ok $((MSGS / 2))" "$TMPROOT/ob/err")" -eq 2 ] ||
            fail "messages lost or out of order: $(grep -o 'order .*' "$TMPROOT/ob/err" | head -2)"
        stopped oa
        # the two "expect" messages besides
        logged oa "transport: $((MSGS + 2)) messages out .* 0 publish errors, 0 session losses"
    else
        fail "node oa not ready"
    fi
    stopped ob
    logged ob "transport: .* $((MSGS + 2)) in; dropped 0 for no such process, 0 stale, 0 malformed; 0 publish errors, 0 session losses"
else
    fail "node ob not ready"
fi
report "$MSGS numbered messages from $SENDERS senders arrive complete and in order"

# A 64 KiB window on both sides (WIPPY_CLUSTER_TEST_WINDOW; batches of
# at most 16 KiB): the window shuts and opens thousands of times, and a
# 5 MB message goes in some 300 fragments beside small messages; all
# arrive complete and in order.
export WIPPY_CLUSTER_TEST_WINDOW=65536
start_node sb --node sb --cluster "$URL"
if wait_ready sb 30; then
    start_node sa --node sa --cluster "$URL" -- seq 8 5000 0 "$(pid_of sb sink1)" "$(pid_of sb sink2)"
    if wait_ready sa 120; then
        has sa "sent 40000"
        wait_match "$TMPROOT/sb/err" "order [a-z]+" 2 120 "${NODE_PID[sb]}" ||
            fail "the sinks did not get all 40000 messages"
        [ "$(grep -c "order ok 20000" "$TMPROOT/sb/err")" -eq 2 ] ||
            fail "messages lost or out of order: $(grep -o 'order .*' "$TMPROOT/sb/err" | head -2)"
        stopped sa
    else
        fail "node sa not ready"
    fi
    start_node sc --node sc --cluster "$URL" -- big "$(pid_of sb sink2)"
    if wait_ready sc 60; then
        wait_match "$TMPROOT/sb/err" "sink post " 1 60 "${NODE_PID[sb]}" ||
            fail "the message after the big one did not arrive"
        logged sb "sink big 5000000 true after"
        logged sb "sink post after big true"
        stopped sc
        logged sc "transport: .* 0 session losses; .* split 1 out, 0 in, 0 lost"
    else
        fail "node sc not ready"
    fi
    stopped sb
    logged sb "transport: .* 0 stale, 0 malformed; 0 publish errors, 0 session losses; .* split 0 out, 1 in, 0 lost"
else
    fail "node sb not ready"
fi
unset WIPPY_CLUSTER_TEST_WINDOW
report "a 64 KiB window: 40000 messages and a 5 MB one in 300 fragments arrive in order"

# A slow receiver (wb takes one batch per 25 ms) and 20 MB from two
# senders on wa: every send returns at once (the senders are done while
# the sink is still far behind), the frames beyond the window wait in
# wa, counted in its stop line, and all arrive in order, with no session
# loss: the window keeps NATS from dropping anything.
WIPPY_CLUSTER_TEST_SLOW_MS=25 start_node wb --node wb --cluster "$URL"
if wait_ready wb 30; then
    start_node wa --node wa --cluster "$URL" -- seq 2 20 500000 "$(pid_of wb sink1)"
    if wait_ready wa 60; then
        has wa "sent 40"
        grep -q "order " "$TMPROOT/wb/err" && fail "the sink was done before the senders were"
        wait_match "$TMPROOT/wb/err" "order [a-z]+" 1 60 "${NODE_PID[wb]}" ||
            fail "the sink did not get all 40 messages"
        logged wb "order ok 40"
        stopped wa
        W=$(sed -n 's/.*at most \([0-9]*\) messages (\([0-9]*\) bytes) waited for the window, 0 dropped at stop.*/\1 \2/p' \
            "$TMPROOT/wa/err")
        if [ -z "$W" ] || [ "${W% *}" -lt 1 ]; then
            fail "wa counted no message waiting for the window: $(grep -o 'at most.*' "$TMPROOT/wa/err")"
        else
            echo "    # at most ${W% *} messages (${W#* } bytes) waited in wa for the window"
        fi
    else
        fail "node wa not ready"
    fi
    stopped wb
    logged wb "transport: .* 41 in; .* 0 malformed; 0 publish errors, 0 session losses"
else
    fail "node wb not ready"
fi
report "a slow receiver: send returns at once, frames wait for the window (counted), all arrive"

# A forced slow consumer, in the middle of a split message: cb's libnats
# may hold 1.5 MiB for its subscription (WIPPY_CLUSTER_TEST_PENDING) and
# it takes one batch per 300 ms, while ca's window lets 4 MiB of a
# 6 MB message's fragments go: libnats drops some and reports a slow
# consumer. That is a session loss, logged and counted on cb, whose reset
# fires ca's monitor of cb's responder with "node disconnected"; the split
# message is given up on both sides (logged, counted: the sink never gets
# it), and the session goes on: a round trip after it works. Nothing is
# lost silently.
WIPPY_CLUSTER_TEST_PENDING=1572864 WIPPY_CLUSTER_TEST_SLOW_MS=300 \
    start_node cb --node cb --cluster "$URL"
if wait_ready cb 30; then
    start_node ca --node ca --cluster "$URL" -- flood "$(pid_of cb responder)" "$(pid_of cb sink1)"
    if wait_ready ca 30; then
        for l in "flood monitor true" "flood pong before" "flood big true" \
            "flood fired pid.exit nil Unavailable node disconnected" "flood pong after"; do
            has ca "$l"
        done
        logged cb "NATS error: Slow Consumer"
        logged cb "sessions with every node lost \(slow consumer"
        logged cb "dropped a split message from node ca \([0-9]+ of 6000[0-9]* bytes received\)"
        logged ca "node cb reset its session with this node"
        logged ca "gave up a split message to node cb \([0-9]+ of 6000[0-9]* bytes sent\)"
        grep -q "sink big" "$TMPROOT/cb/err" && fail "the sink got the big message"
        stopped ca
        logged ca "transport: .* split 0 out, 0 in, 1 lost"
    else
        fail "node ca not ready"
    fi
    stopped cb
    logged cb "transport: .* 0 publish errors, [1-9][0-9]* session losses; .* split 0 out, 0 in, 1 lost"
else
    fail "node cb not ready"
fi
report "a forced slow consumer is a session loss: logged, counted, a monitor fires, the split message is given up"

echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
