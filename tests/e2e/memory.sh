#!/usr/bin/env bash
# End-to-end test: a service's memory comes back after a peak.
#
#   tests/e2e/memory.sh WIPPY_BINARY
#
# The service of tests/e2e/memory/ builds about 100 MB of Lua data, then
# drops it and stays blocked. The runtime collects it (vm/vmproc.c
# collect_idle), frees the chunks that came empty and has the allocator hand
# the pages back (vm/lmem.c wp_state_collect). Checked within 15 s of the
# drop:
#   * every build: the process's own accounting, its debug line "collected:
#     heap A -> B bytes, chunks C -> D bytes", shows B under 10 MB (Lua's
#     string table shrinks by halves, one per collection) and D under 1 MB;
#   * jemalloc builds (`wippy --version`): the runtime's VmRSS is back under
#     its baseline + 25 MB. Under ASan, libc malloc keeps freed memory in
#     quarantine: RSS says nothing there.
# Waits are on output lines (wait_match) and on RSS samples with a deadline;
# the limits are failure bounds.
set -u

. "$(dirname "${BASH_SOURCE[0]}")/../common.sh" "$@"

if [ ! -x "$WIPPY" ]; then
    echo "wippy binary not found or not executable: $WIPPY" >&2
    exit 2
fi

TMPROOT=$(mktemp -d "${TMPDIR:-/tmp}/wippy-e2e-memory.XXXXXX")
pid=
cleanup() {
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    rm -rf "$TMPROOT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

reasons=()
fail() { reasons+=("$*"); }

work=$TMPROOT/app
mkdir -p "$work"
cp -R "$HERE/memory/src" "$work/src"
(cd "$work" && "$WIPPY" init -s >init.out 2>&1) || fail "wippy init failed"
mkfifo "$work/in"
(cd "$work" && exec "$WIPPY" run -v -x app:cli <in >stdout 2>stderr) &
pid=$!
exec 3>"$work/in"

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null; }

jemalloc=0
"$WIPPY" --version | grep -q jemalloc && jemalloc=1

if ! wait_match "$work/stdout" '^READY$' 1 30 "$pid"; then
    fail "no READY line"
else
    base=$(rss_kb)
    echo build >&3
    if ! wait_match "$work/stdout" '^BUILT 800000$' 1 120 "$pid"; then
        fail "no BUILT line"
    else
        peak=$(rss_kb)
        if [ "$jemalloc" = 1 ] && [ "$peak" -lt $((base + 80 * 1024)) ]; then
            fail "the peak did not show: VmRSS ${base} kB before, ${peak} kB after the build"
        fi
        echo drop >&3
        wait_match "$work/stdout" '^DROPPED 0$' 1 30 "$pid" || fail "no DROPPED line"
        start=$SECONDS
        if ! wait_match "$work/stderr" \
            'collected: heap [0-9]+ -> [0-9]{1,7} bytes, chunks [0-9]+ -> [0-9]{1,6} bytes' 1 15 "$pid"; then
            fail "no collection down to its baseline within 15 s of the drop"
        fi
        if [ "$jemalloc" = 1 ]; then
            limit=$((base + 25 * 1024))
            now=$(rss_kb)
            while [ "${now:-0}" -gt "$limit" ] && [ $((SECONDS - start)) -lt 15 ]; do
                sleep 0.2
                now=$(rss_kb)
            done
            if [ "${now:-0}" -gt "$limit" ]; then
                fail "VmRSS ${now} kB 15 s after the drop; baseline ${base} kB, peak ${peak} kB"
            fi
            echo "# VmRSS: baseline ${base} kB, peak ${peak} kB, after the drop ${now} kB"
        fi
    fi
fi
echo quit >&3
exec 3>&-
if ! wait_pid "$pid" 20; then
    fail "wippy did not exit after quit"
elif [ "$WAIT_RC" -ne 0 ]; then
    fail "wippy exited $WAIT_RC"
fi
pid=
if grep -qE 'Sanitizer|runtime error:' "$work/stdout" "$work/stderr"; then
    fail "sanitizer report"
fi

if [ ${#reasons[@]} -eq 0 ]; then
    echo "ok - memory comes back after a peak"
    echo "1 passed, 0 failed"
    exit 0
fi
echo "not ok - memory comes back after a peak"
for r in "${reasons[@]}"; do echo "    # $r"; done
for f in stdout stderr; do
    echo "    --- $f:"
    grep -v 'DEBUG.*\(spawn\|exit\)' "$work/$f" | tail -40 | sed 's/^/    | /'
done
echo "0 passed, 1 failed"
exit 1
