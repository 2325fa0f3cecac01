#!/usr/bin/env bash
# The control endpoint under load (ctest control_load; in the TSan phase
# too): while app:busy spawns, sends and receives as fast as it can on two
# workers, clients ask for snapshots and inspect processes that come and
# go, a `top` stays attached, and bad requests arrive; then the workload is
# stopped and the node must end cleanly with no sanitizer report.
#
#   tests/control/load.sh WIPPY_BINARY CTLRAW_BINARY
#
# Every request waits for its answer (the synchronisation); the numbers of
# requests, not durations, bound the test.
set -u
WIPPY_USAGE="CTLRAW_BINARY"
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh" "$@"
. "$HERE/lib.sh"
takes_ctlraw "$@"
setup_tmp
TOPPID=
# shellcheck disable=SC2016 # expanded by cleanup
EXTRA_CLEANUP='[ -n "$TOPPID" ] && kill "$TOPPID" 2>/dev/null; exec 3>&- 2>/dev/null'
trap cleanup EXIT
trap 'exit 130' INT TERM
ROUNDS=${WIPPY_CONTROL_ROUNDS:-20}

new_app load
mkfifo "$W/in"
: >"$LOG"
(cd "$W" && exec "$WIPPY" run --workers 2 -x app:terminal/app:busy 8 <"$W/in" >"$W/out.log" 2>"$LOG") &
NODE=$!
exec 3>"$W/in"
wait_match "$W/out.log" '^BUSY$' 1 60 "$NODE" || fail "the workload did not start"
SOCK=$(node_socket)
[ -n "$SOCK" ] || fail "no socket"

# a top attached the whole time (plain text, refreshing every 100 ms)
(cd "$W" && exec "$WIPPY" top --interval 0.1 >"$TMPROOT/top.out" 2>"$TMPROOT/top.err") &
TOPPID=$!

busy_seen=0
bad=0
for i in $(seq 1 "$ROUNDS"); do
    S=$TMPROOT/snap.json
    if ! (cd "$W" && "$WIPPY" top --once --json --sort cpu --rows 50) >"$S" 2>"$TMPROOT/err"; then
        fail "snapshot $i failed: $(cat "$TMPROOT/err")"
        break
    fi
    # spare threads may join when a slow run looks stuck (sanitizer builds)
    jq -e '.ok and .processes.total >= 9 and ([.workers[] | select(.spare | not)] | length) == 2' \
        "$S" >/dev/null ||
        { fail "snapshot $i: $(head -c 300 "$S")"; break; }
    jq -e '.rates.spawns_per_s > 0 and .rates.msgs_per_s > 0' "$S" >/dev/null && busy_seen=$((busy_seen + 1))
    # inspect what the snapshot listed: alive, or ended meanwhile
    for pid in $(jq -r '.top[0:4][].pid' "$S"); do
        out=$(cd "$W" && "$WIPPY" inspect --json "$pid" 2>&1)
        jq -e '.ok == true or .state == "ended"' <<<"$out" >/dev/null 2>&1 ||
            { bad=$((bad + 1)); fail "inspect $pid: $out"; }
    done
    [ $((i % 10)) -eq 0 ] && printf 'bogus\nsnapshot top=-1\n\377\nhello\n' | "$CTLRAW" "$SOCK" 2000 >/dev/null
    [ "$bad" -gt 3 ] && break
done
[ "$busy_seen" -gt 0 ] || fail "no snapshot showed spawns and messages per second above 0"
kill -0 "$TOPPID" 2>/dev/null || fail "the attached top ended: $(cat "$TMPROOT/top.err")"
grep -q '^processes: ' "$TMPROOT/top.out" || fail "the attached top printed nothing"
check "snapshots, inspections and bad requests under load ($ROUNDS rounds)"

echo stop >&3
exec 3>&-
wait_match "$W/out.log" '^DONE [0-9]+$' 1 60 "$NODE" || fail "the workload did not stop"
if ! wait_pid "$NODE" 120; then
    fail "the node did not end"
elif [ "$WAIT_RC" -ne 0 ]; then
    fail "the node exited with $WAIT_RC"
fi
NODE=
# the attached top sees its node go and says so (exit 1)
wait_pid "$TOPPID" 30 || fail "top did not end with its node"
[ "${WAIT_RC:-0}" -eq 1 ] || fail "top exited $WAIT_RC when its node went, not 1"
grep -q 'Error: ' "$TMPROOT/top.err" || fail "top did not say why it ended"
TOPPID=
check "the node ends cleanly; the attached top notices"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
