#!/usr/bin/env bash
# bench/smoke.sh: every benchmark scenario at a tiny size (a few seconds in
# all), through bench/run with the given binary. A scenario passes when it
# exits 0 (its counts matched) and printed its RESULT line; no timing is
# checked. Prints "ok - ..." / "not ok - ..." per scenario and a final
# "N passed, N failed" line; exits 1 if any failed. The dist_ scenarios
# and load (two nodes and a nats-server) are skipped, saying so, when
# nats-server is not installed.
#
#   bench/smoke.sh WIPPY_BINARY [C_BENCH_DIR]
#
# C_BENCH_DIR holds bench_timers, bench_mailbox, bench_steal and bench_codec (default:
# the `bench` directory next to the binary, as in a CMake build tree).
set -u

if [ $# -lt 1 ]; then
    echo "usage: $0 WIPPY_BINARY [C_BENCH_DIR]" >&2
    exit 2
fi
abspath() {
    case $1 in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s/%s\n' "$(cd "$(dirname "$1")" && pwd)" "$(basename "$1")" ;;
    esac
}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export WIPPY_BIN; WIPPY_BIN=$(abspath "$1")
export WIPPY_BENCH_CBIN; WIPPY_BENCH_CBIN=$(abspath "${2:-$(dirname "$WIPPY_BIN")/bench}")
if [ ! -x "$WIPPY_BIN" ]; then
    echo "wippy binary not found or not executable: $WIPPY_BIN" >&2
    exit 2
fi

cases=(
    "echo 2 0 0 1"
    "echo 20 10 0 1"
    "openloop 200 1 0"
    "spawn 100"
    "idle 100"
    "pingpong 1000"
    "sleepers 100 50"
    "chaos 3000 100 200 400"
    "wheel 10000"
    "mailbox 2 10000"
    "steal 200 10 1"
    "codec 1000 1"
    "dist_echo 4 0 1"
    "dist_oneway 10000"
    "dist_pingpong 200"
    "dist_down 500 100 10"
    "dist_idle 1"
    "load --start-cluster --clients 2 --duration 1 --warmup 0"
)

# chaos: RSS counts as settled after 2 quiet seconds (10 by default)
export WIPPY_BENCH_SETTLE_WINDOW=2

passed=0
failed=0
for c in "${cases[@]}"; do
    if { [ "${c#dist_}" != "$c" ] || [ "${c#load }" != "$c" ]; } && ! command -v nats-server >/dev/null 2>&1; then
        echo "ok - $c # SKIP nats-server is not installed (tools/deps.sh --test installs it)"
        continue
    fi
    # shellcheck disable=SC2086
    out=$("$HERE/run" --timeout 120 $c 2>&1)
    rc=$?
    scenario=${c%% *}
    if [ "$rc" -eq 0 ] && grep -q "^RESULT system=wippy scenario=$scenario " <<<"$out"; then
        echo "ok - $c"
        passed=$((passed + 1))
    else
        echo "not ok - $c (exit status $rc)"
        # shellcheck disable=SC2001
        sed "s/^/#   /" <<<"$out"
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
