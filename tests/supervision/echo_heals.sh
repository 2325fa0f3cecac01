#!/usr/bin/env bash
# The echo service heals, visibly (examples/echo-service).
#
#   tests/supervision/echo_heals.sh WIPPY_BINARY
#
# Copies the example into a private temporary directory, `wippy init -s`,
# and runs `wippy run -c -x app:cli` with its stdin on a fifo (so the
# runtime's log lines and the CLI's output both go to one file). Then, one
# line at a time, waiting (bounded polls) for the expected output each time:
#
#   hello        -> HELLO
#   crash        -> "worker failed: ..." well before the CLI's 2 s timeout
#   crash relay  -> the relay dies: "relay unavailable"/"timeout"; a line sent
#                   while it is down is refused ("relay unavailable")
#   (wait)       -> "service app:relay-service: Running" a second time
#   again        -> AGAIN (the restarted relay registered its name again)
#   ""           -> Goodbye!, exit 0
#
# Prints "ok - <step>" / "not ok - <step>" and "N passed, N failed"; exits 1
# when a step failed.
set -u

. "$(dirname "${BASH_SOURCE[0]}")/../common.sh" "$@"
EXAMPLE=$REPO/examples/echo-service

if [ ! -x "$WIPPY" ]; then
    echo "wippy binary not found or not executable: $WIPPY" >&2
    exit 2
fi
if [ ! -f "$EXAMPLE/src/_index.yaml" ]; then
    echo "example not found: $EXAMPLE/src/_index.yaml" >&2
    exit 2
fi

TMPROOT=$(mktemp -d "${TMPDIR:-/tmp}/wippy-echo-heals.XXXXXX")
# shellcheck source=lib.sh
. "$HERE/lib.sh"
cleanup() {
    exec 3>&- 2>/dev/null
    stop_app
    if [ -n "${WIPPY_KEEP_TMP:-}" ]; then echo "# kept $TMPROOT"; else rm -rf "$TMPROOT"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# step NAME: ok/not ok from $reasons (the logs are shown once, at the end)
step() { verdict "$1" || true; }

# say LINE: one line to the CLI's stdin
say() { printf '%s\n' "$1" >&3; }

new_app echo-heals
cp -R "$EXAMPLE/src/." "$W/src/"
chmod -R u+w "$W/src"
init_app
mkfifo "$W/in"
: >"$W/out.log"
: >"$W/err.log"
(cd "$W" && exec "$WIPPY" run -c -x app:cli <"$W/in" >"$W/out.log" 2>"$W/err.log") &
APP_PID=$!
exec 3<>"$W/in" # read-write: never blocks, and keeps the fifo open

need_line 'Echo Client' 1 10
need_line 'service app:relay-service: Running$' 1 10
step "the CLI and the relay start"

say hello
if need_line 'HELLO' 1 5; then
    need_line 'from worker: ' 1 2
fi
step "hello -> HELLO"

t0=$(now_ms)
say crash
if need_line 'worker failed: ' 1 5; then
    took=$(($(now_ms) - t0))
    [ "$took" -le 1500 ] || fail "the failure was reported after $took ms (the CLI's timeout is 2 s)"
    grep -aq 'worker failed: .*crashed' "$W/out.log" || fail "the CLI line does not show the error"
    grep -aqE $'\tERROR\tworker failed\t.*crashed' "$W/out.log" ||
        fail "the relay did not log the worker's EXIT error"
fi
[ "$(count 'timeout')" -eq 0 ] || fail "the CLI ran into its timeout"
step "crash -> worker failed, quickly"

# the relay dies; a second line, already queued, arrives while it is down
say "crash relay"
say "while down"
if need_line 'service app:relay-service: Failed$' 1 5; then
    need_line 'relay unavailable|timeout' 1 5
    need_line 'relay unavailable|timeout' 2 5 || fail "the line sent while the relay was down got no refusal"
    [ "$(count 'WHILE DOWN')" -eq 0 ] || fail "a line was answered while the relay was down"
fi
step "crash relay -> the relay dies, the CLI says so"

if need_line 'service app:relay-service: Running$' 2 10; then
    [ "$(count $'\trelay started')" -ge 2 ] || fail "no second 'relay started' log line"
    grep -aq 'service app:relay-service: restarting in' "$W/out.log" ||
        fail "no 'restarting in' line"
    a=$(line_no 'service app:relay-service: Failed$')
    b=$(line_no 'service app:relay-service: restarting in')
    c=$(line_no 'service app:relay-service: Starting$' 2)
    { [ -n "$a" ] && [ -n "$b" ] && [ -n "$c" ] && [ "$a" -lt "$b" ] && [ "$b" -lt "$c" ]; } ||
        fail "expected Failed, restarting in, Starting in this order (lines $a, $b, $c)"
    # the restart delay is ~200 ms (restart.initial_delay)
    gap_ok "Failed -> Starting" "$(line_ms 'service app:relay-service: Failed$')" \
        "$(line_ms 'service app:relay-service: Starting$' 2)" 140 800
fi
step "the relay-service restarts the relay"

say again
if need_line 'AGAIN' 1 5; then
    need_line 'from worker: ' 2 2
fi
step "again -> AGAIN (after the restart)"

say ""
need_line 'Goodbye!' 1 5
expect_exit 0 10
exec 3>&-
step "empty line -> Goodbye!, exit 0"

if grep -aqE 'Sanitizer|runtime error:' "$W/out.log" "$W/err.log"; then
    echo "not ok - no sanitizer reports"
    failed=$((failed + 1))
fi

if [ "$failed" -gt 0 ]; then
    for f in out.log err.log; do
        if [ -s "$W/$f" ]; then
            echo "    --- $f:"
            cat -v "$W/$f" | indent
        fi
    done
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
