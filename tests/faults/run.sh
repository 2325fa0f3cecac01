#!/usr/bin/env bash
# Allocation-failure sweep: nothing is lost silently when memory runs out.
#
#   tests/faults/run.sh WIPPY_BINARY [SAMPLES]
#
# WIPPY_BINARY must be a Debug build (WIPPY_FAULTS: CI's sanitizer builds).
# The app in tests/faults/app runs spawn, send, monitor, link, timers,
# terminal input, exec, funcs.call and funcs.async, and the event bus (its
# test.lua says what it checks).
# A first run with WIPPY_FAIL_ALLOC=count must finish cleanly and reports
# how many allocations the app makes after boot (K). Then the app runs once
# for each sampled N with the N-th allocation failing (allocations 1-40 all,
# then SAMPLES values spread over K, default 40), and with bursts of 64
# failures. Each run must either print its DONE line and exit 0, or end
# with exit 1 and an error message on stderr (the failure reported as the
# -x process's error, or a boot error). A run that hangs (60 s), crashes, prints FAIL or a
# sanitizer report fails the sweep.
set -u

WIPPY_USAGE='[SAMPLES]'
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh" "$@"
SAMPLES=${2:-40}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wippy-faults.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
cp -R "$HERE/app/." "$TMP/"
(cd "$TMP" && "$WIPPY" init -s >/dev/null 2>&1) || { echo "wippy init failed" >&2; exit 1; }
printf 'ping\n' >"$TMP/stdin"

passed=0
failed=0

# run SPEC: one run with WIPPY_FAIL_ALLOC=SPEC; RC, OUT, ERR set.
run() {
    (cd "$TMP" && WIPPY_FAIL_ALLOC=$1 exec timeout -s KILL 60 "$WIPPY" run -x app:test \
        <"$TMP/stdin" >"$TMP/out" 2>"$TMP/err")
    RC=$?
    OUT=$(cat "$TMP/out")
    ERR=$(cat "$TMP/err")
}

# judge SPEC: checks the last run.
judge() {
    local why=
    if [ "$RC" -eq 137 ]; then
        why="hung (killed after 60 s)"
    elif grep -qE "Sanitizer|runtime error:" "$TMP/out" "$TMP/err"; then
        why="sanitizer report"
    elif grep -q '^FAIL' "$TMP/out"; then
        why="a notice never came"
    elif [ "$RC" -eq 0 ]; then
        grep -q '^DONE ' "$TMP/out" || why="exit 0 without its DONE line"
    elif [ "$RC" -eq 1 ]; then
        grep -v '^alloc faults:' "$TMP/err" | grep -q . || why="exit 1 without an error message"
    else
        why="exit code $RC"
    fi
    if [ -n "$why" ]; then
        failed=$((failed + 1))
        echo "not ok - WIPPY_FAIL_ALLOC=$1: $why"
        { printf '%s\n' "$OUT"; printf '%s\n' "$ERR"; } | tail -20 | sed 's/^/    | /'
    else
        passed=$((passed + 1))
    fi
}

run count
K=$(sed -nE 's/^alloc faults: ([0-9]+) allocations.*/\1/p' "$TMP/err")
FULL="DONE call_err=0 calls=8 events=1 exit_err=2 exits=12 hellos=13 link_down=1 reads=1 spawn_err=0 spawned=12 timers=4"
if [ "$RC" -ne 0 ] || [ -z "$K" ] || ! grep -qxF "$FULL" "$TMP/out"; then
    echo "not ok - the app without faults (exit $RC, expected: $FULL)"
    { printf '%s\n' "$OUT"; printf '%s\n' "$ERR"; } | tail -20 | sed 's/^/    | /'
    echo "0 passed, 1 failed"
    exit 1
fi
echo "# $K allocations after boot; sampling $SAMPLES more"

specs=()
for ((n = 1; n <= 40 && n <= K; n++)); do specs+=("$n"); done
for ((i = 1; i <= SAMPLES; i++)); do specs+=("$(((K * i) / (SAMPLES + 1) + 1))"); done
for ((i = 1; i <= 8; i++)); do specs+=("$(((K * i) / 9 + 1))+64"); done

for s in "${specs[@]}"; do
    run "$s"
    judge "$s"
done
echo "# fault sweep: ${#specs[@]} runs"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
