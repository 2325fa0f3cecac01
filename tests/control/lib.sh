# shellcheck shell=bash
# shellcheck disable=SC2034  # variables here are used by the sourcing scripts
# Shared helpers for tests/control/*.sh (sourced after ../common.sh).
#
# Every node of a test runs in an app directory of its own under $TMPROOT
# with XDG_RUNTIME_DIR pointing into $TMPROOT, so its control socket lands
# in $TMPROOT/xdg/wippy and never meets the sockets of other nodes on the
# machine. Waits are on events (a log line, a socket answering, a process
# ending), each bounded; the bounds are failure limits, not timings.

passed=0
failed=0
reasons=()
NODE=
W=
LOG=

fail() { reasons+=("$*"); }

# check NAME: one ok/not ok line from $reasons (verdict, ../common.sh);
# the node's logs are shown on a failure.
check() {
    if [ -n "$W" ] && grep -aqE 'Sanitizer|runtime error:' "$W"/*.log 2>/dev/null; then
        fail "sanitizer report in the node's output"
    fi
    if ! verdict "$1"; then
        local f
        for f in "$W"/*.log; do
            [ -s "$f" ] && { echo "    --- $f:"; tail -40 "$f" | cat -v | sed 's/^/    | /'; }
        done
    fi
    return 0
}

# takes_ctlraw ARGS...: for the scripts run as `SCRIPT WIPPY_BINARY
# CTLRAW_BINARY`: CTLRAW = the raw test client; jq is needed too.
takes_ctlraw() {
    [ $# -ge 2 ] || { echo "usage: $0 WIPPY_BINARY CTLRAW_BINARY" >&2; exit 2; }
    CTLRAW=$(abspath "$2")
    command -v jq >/dev/null || { echo "jq is needed (tools/deps.sh --test)" >&2; exit 2; }
}

setup_tmp() {
    TMPROOT=$(mktemp -d "${TMPDIR:-/tmp}/wippy-control.XXXXXX")
    export XDG_RUNTIME_DIR=$TMPROOT/xdg
    mkdir -m 700 "$XDG_RUNTIME_DIR"
    SOCKDIR=$XDG_RUNTIME_DIR/wippy
    unset WIPPY_TEST_CONTROL_DIR NO_COLOR
}

# new_app NAME: $W = a fresh copy of tests/control/app, initialised;
# LOG = $W/err.log, where the next node's stderr goes.
new_app() {
    W=$TMPROOT/$1
    LOG=$W/err.log
    mkdir -p "$W"
    cp -R "$HERE/app/src" "$W/src"
    (cd "$W" && "$WIPPY" init -s >init.out 2>&1) || fail "wippy init failed in $W"
}

# start_node [ARGS...]: `wippy run --workers 2 ARGS` in $W, its stderr
# (the log) to $LOG, stdout to $LOG.out; NODE = its pid.
start_node() {
    : >"$LOG"
    (cd "$W" && exec "$WIPPY" run --workers 2 "$@" >"$LOG.out" 2>"$LOG") &
    NODE=$!
}

# need_log REGEX [N] [SECONDS]: waits for N lines of the node's log.
need_log() {
    wait_match "$LOG" "$1" "${2:-1}" "${3:-30}" "$NODE" || {
        fail "no log line /$1/ (x${2:-1})"
        return 1
    }
}

# workload: waits until the app's workload is in place and the flaky
# service has given up; MAIN, HOARDER, BRIEF = the pids it printed.
workload() {
    MAIN='' HOARDER='' BRIEF=''
    need_log 'workload ready main=' || return 1
    need_log 'service app:flaky-service: giving up after 3 attempts' || return 1
    local line
    line=$(grep -a -m1 'workload ready main=' "$LOG")
    MAIN=$(sed -E 's/.*main=(\{[^ }]*\}).*/\1/' <<<"$line")
    HOARDER=$(sed -E 's/.*hoarder=(\{[^ }]*\}).*/\1/' <<<"$line")
    BRIEF=$(sed -E 's/.*brief=(\{[^ }]*\}).*/\1/' <<<"$line")
}

# the node's socket path (one), or nothing (names are KEY.NODE.PID.sock)
# shellcheck disable=SC2012
node_socket() { ls "$SOCKDIR"/*."$NODE".sock 2>/dev/null | head -1; }

# stop_node [CODE]: SIGTERM, then the exit is awaited (code CODE, default 0).
stop_node() {
    [ -n "$NODE" ] || return 0
    kill -TERM "$NODE" 2>/dev/null
    if ! wait_pid "$NODE" 60; then
        fail "the node did not stop within 60 s of SIGTERM"
    elif [ "$WAIT_RC" -ne "${1:-0}" ]; then
        fail "the node exited with $WAIT_RC, not ${1:-0}"
    fi
    NODE=
}

cleanup() {
    [ -n "$NODE" ] && kill -KILL "$NODE" 2>/dev/null
    [ -n "${EXTRA_CLEANUP:-}" ] && eval "$EXTRA_CLEANUP"
    if [ -n "${WIPPY_TEST_KEEP:-}" ]; then echo "# kept $TMPROOT"; else rm -rf "$TMPROOT"; fi
}

# jqc FILE FILTER MESSAGE: fails with MESSAGE unless jq -e FILTER holds.
jqc() {
    jq -e "$2" "$1" >/dev/null 2>&1 || fail "$3 (jq: $2)"
}
