#!/usr/bin/env bash
# shellcheck disable=SC2119  # start_app takes optional extra wippy arguments
# Supervision tests: process.service lifecycle, restart backoff, dependency
# order, stop timeouts, shutdown timeout and signals (spec 02 §5-6, 06 §4-5).
#
#   tests/supervision/run.sh WIPPY_BINARY [CASE...]
#
# Each case writes a small app into a private temporary directory,
# `wippy init -s`, starts `wippy run -c` in the background and judges the
# log lines it prints (`<RFC 3339 time>\t<LEVEL>\t<message>\t<fields>`).
# The script waits for log lines to appear (bounded polls), never for fixed
# times; timing checks compare log timestamps with generous bounds.
#
# Cases (names usable as CASE arguments):
#   backoff     always-crashing service: 4 starts, ~100/200/400 ms backoff,
#               "giving up"; the runtime keeps running; SIGTERM -> exit 0
#   no-restart  normal return and `return nil, "text"`: one start, Exited
#   stable      runs >= stable_threshold before crashing: the counter and the
#               exponent reset, so it keeps restarting after ~initial_delay
#   deps        requires/depends_on chain: start order, reverse stop order
#   stop-timeout  CANCEL ignored, stop_timeout 300ms: cut off, exit 0
#   shutdown-timeout  shutdown.timeout 500ms < stop_timeout 5s: exit 1,
#               the service that did not stop is named
#   dep-errors  dependency cycle / unknown dependency / a chain of more than
#               1000 services: Error:, exit 1
#   start-timeout  busy loop before the first blocking point
#   second-signal  a second SIGINT during a slow shutdown exits 1 at once
#   term-twice  a second SIGTERM during a slow shutdown changes nothing: the
#               stop goes on gracefully, exit 0
#   timeout-term  `timeout(1)` (SIGTERM, often twice): a graceful stop, exit 0
#   parallel-stop  two independent services ignoring CANCEL stop together:
#               both get CANCEL before either is cut off
#   input       a service's input list of 3001 arguments, one nested 100
#               deep, reaches its process; one nested 200 deep is refused
#
# Prints "ok - <case>" / "not ok - <case>" and "N passed, N failed"; exits 1
# when a case failed.
set -u

WIPPY_USAGE='[CASE...]'
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh" "$@"
shift

if [ ! -x "$WIPPY" ]; then
    echo "wippy binary not found or not executable: $WIPPY" >&2
    exit 2
fi

TMPROOT=$(mktemp -d "${TMPDIR:-/tmp}/wippy-supervision.XXXXXX")
# shellcheck source=lib.sh
. "$HERE/lib.sh"
if [ -n "${WIPPY_KEEP_TMP:-}" ]; then
    trap 'stop_app; echo "# kept $TMPROOT"' EXIT
else
    trap 'stop_app; rm -rf "$TMPROOT"' EXIT
fi
trap 'exit 130' INT TERM

# Common header: namespace app, one auto-started process host app:host.
header() {
    cat >"$W/src/_index.yaml" <<'EOF'
version: "1.0"
namespace: app
entries:
  - name: host
    kind: process.host
    lifecycle:
      auto_start: true
EOF
}

# ---------------------------------------------------------------------------
case_backoff() {
    new_app backoff
    header
    cat >>"$W/src/_index.yaml" <<'EOF'
  - name: crasher
    kind: process.lua
    source: file://crasher.lua
    method: main
    modules: [time]
  - name: crasher-svc
    kind: process.service
    process: app:crasher
    host: app:host
    lifecycle:
      auto_start: true
      restart:
        initial_delay: 100ms
        backoff_factor: 2
        max_attempts: 4
  - name: heartbeat
    kind: process.lua
    source: file://heartbeat.lua
    method: main
    modules: [time, logger, channel, process]
  - name: heartbeat-svc
    kind: process.service
    process: app:heartbeat
    host: app:host
    lifecycle:
      auto_start: true
EOF
    cat >"$W/src/crasher.lua" <<'EOF'
local time = require("time")

local function main()
    time.sleep("1ms")
    error("boom")
end

return { main = main }
EOF
    write_heartbeat
    init_app
    start_app
    local S='service app:crasher-svc: Starting$' F='service app:crasher-svc: Failed$'
    if need_line 'service app:crasher-svc: giving up after 4 attempts' 1 15; then
        local g
        g=$(line_no 'service app:crasher-svc: giving up')
        # the runtime is still alive: a heartbeat after the give-up
        local hb_before
        hb_before=$(count $'\theartbeat\t')
        if wait_line $'\theartbeat\t' $((hb_before + 2)) 5; then
            local hb
            hb=$(grep -anE $'\theartbeat\t' "$W/out.log" | tail -n 1 | cut -d: -f1)
            [ "$hb" -gt "$g" ] || fail "no heartbeat after the give-up"
        else
            fail "no heartbeat after the give-up (runtime stuck?)"
        fi
        local n
        n=$(count "$S")
        [ "$n" -eq 4 ] || fail "expected exactly 4 Starting lines, got $n"
        n=$(count "$F")
        [ "$n" -eq 4 ] || fail "expected exactly 4 Failed lines, got $n"
        n=$(count 'service app:crasher-svc: restarting in')
        [ "$n" -eq 3 ] || fail "expected 3 'restarting in' lines, got $n"
        gap_ok "delay before restart 1" "$(line_ms "$F" 1)" "$(line_ms "$S" 2)" 70 400
        gap_ok "delay before restart 2" "$(line_ms "$F" 2)" "$(line_ms "$S" 3)" 150 600
        gap_ok "delay before restart 3" "$(line_ms "$F" 3)" "$(line_ms "$S" 4)" 300 900
        # each delay longer than the one before (backoff, not a fixed delay)
        local d1 d2 d3
        d1=$(( $(line_ms "$S" 2) - $(line_ms "$F" 1) ))
        d2=$(( $(line_ms "$S" 3) - $(line_ms "$F" 2) ))
        d3=$(( $(line_ms "$S" 4) - $(line_ms "$F" 3) ))
        { [ "$d1" -lt "$d2" ] && [ "$d2" -lt "$d3" ]; } ||
            fail "delays do not grow: $d1, $d2, $d3 ms"
    fi
    signal TERM
    expect_exit 0 10
    grep -aq 'service app:heartbeat-svc: Stopped' "$W/out.log" ||
        fail "heartbeat service not Stopped at shutdown"
    stop_app
    report backoff
}

# ---------------------------------------------------------------------------
case_no_restart() {
    new_app no-restart
    header
    cat >>"$W/src/_index.yaml" <<'EOF'
  - name: ender
    kind: process.lua
    source: file://ender.lua
    method: main
    modules: [time]
  - name: normal-svc
    kind: process.service
    process: app:ender
    host: app:host
    input: ["normal"]
    lifecycle:
      auto_start: true
      restart: {initial_delay: 50ms}
  - name: nilerr-svc
    kind: process.service
    process: app:ender
    host: app:host
    input: ["nilerr"]
    lifecycle:
      auto_start: true
      restart: {initial_delay: 50ms}
  - name: instant-svc
    kind: process.service
    process: app:ender
    host: app:host
    input: ["instant"]
    lifecycle:
      auto_start: true
      restart: {initial_delay: 50ms}
  - name: heartbeat
    kind: process.lua
    source: file://heartbeat.lua
    method: main
    modules: [time, logger, channel, process]
  - name: heartbeat-svc
    kind: process.service
    process: app:heartbeat
    host: app:host
    lifecycle:
      auto_start: true
EOF
    cat >"$W/src/ender.lua" <<'EOF'
local time = require("time")

local function main(how)
    if how == "instant" then return "done" end  -- ends before blocking
    time.sleep("10ms")
    if how == "nilerr" then return nil, "text" end
    return 0
end

return { main = main }
EOF
    write_heartbeat
    init_app
    start_app
    local s
    for s in normal-svc nilerr-svc instant-svc; do
        need_line "service app:$s: Exited\$" 1 10
    done
    # let several restart delays (50 ms) pass: 5 more heartbeats (~500 ms)
    local hb
    hb=$(count $'\theartbeat\t')
    wait_line $'\theartbeat\t' $((hb + 5)) 5 || fail "no heartbeats (runtime stuck?)"
    for s in normal-svc nilerr-svc instant-svc; do
        local n
        n=$(count "service app:$s: Starting\$")
        [ "$n" -eq 1 ] || fail "$s: $n Starting lines, expected 1"
        n=$(count "service app:$s: (Failed|restarting)")
        [ "$n" -eq 0 ] || fail "$s: Failed/restarting lines, expected none"
        n=$(count "service app:$s: Exited\$")
        [ "$n" -eq 1 ] || fail "$s: $n Exited lines, expected 1"
    done
    signal TERM
    expect_exit 0 10
    stop_app
    report no-restart
}

# ---------------------------------------------------------------------------
case_stable() {
    new_app stable
    header
    # backoff_factor 10: if the exponent did not reset, the second delay
    # would be ~1 s and the third ~10 s; max_attempts 2 without the reset
    # would give up after the second start.
    cat >>"$W/src/_index.yaml" <<'EOF'
  - name: slowcrash
    kind: process.lua
    source: file://slowcrash.lua
    method: main
    modules: [time]
  - name: slowcrash-svc
    kind: process.service
    process: app:slowcrash
    host: app:host
    lifecycle:
      auto_start: true
      stable_threshold: 200ms
      restart:
        initial_delay: 100ms
        backoff_factor: 10
        max_attempts: 2
EOF
    cat >"$W/src/slowcrash.lua" <<'EOF'
local time = require("time")

local function main()
    time.sleep("300ms")
    error("crash after a stable run")
end

return { main = main }
EOF
    init_app
    start_app
    local S='service app:slowcrash-svc: Starting$' F='service app:slowcrash-svc: Failed$'
    if need_line "$S" 4 10; then
        local k
        for k in 1 2 3; do
            gap_ok "delay before restart $k" "$(line_ms "$F" "$k")" "$(line_ms "$S" $((k + 1)))" 70 400
        done
        [ "$(count 'giving up')" -eq 0 ] || fail "gave up despite stable runs"
        local bad
        bad=$(sed -n 's/.*service app:slowcrash-svc: restarting in \([0-9]*\) ms.*/\1/p' "$W/out.log" |
            awk '$1 < 70 || $1 > 300' | head -n 1)
        [ -z "$bad" ] || fail "a logged restart delay is $bad ms, expected ~100"
    fi
    signal TERM
    expect_exit 0 10
    stop_app
    report stable
}

# ---------------------------------------------------------------------------
case_deps() {
    new_app deps
    header
    # declared in reverse order; cache is not auto_start (a dependency is
    # started anyway); audit uses the legacy depends_on.
    cat >>"$W/src/_index.yaml" <<'EOF'
  - name: polite
    kind: process.lua
    source: file://polite.lua
    method: main
    modules: [logger, process]
  - name: audit
    kind: process.service
    process: app:polite
    host: app:host
    input: ["audit"]
    lifecycle:
      auto_start: true
      depends_on: [app:api]
  - name: api
    kind: process.service
    process: app:polite
    host: app:host
    input: ["api"]
    lifecycle:
      auto_start: true
      requires: [app:db]
  - name: db
    kind: process.service
    process: app:polite
    host: app:host
    input: ["db"]
    lifecycle:
      auto_start: true
      requires: [app:cache]
  - name: cache
    kind: process.service
    process: app:polite
    host: app:host
    input: ["cache"]
EOF
    write_polite
    init_app
    start_app
    if need_line 'service app:audit: Running$' 1 10 && need_line 'runtime ready' 1 10; then
        in_order 'service app:host: Running$' 'service app:cache: Starting$' \
            'service app:cache: Running$' 'service app:db: Starting$' \
            'service app:db: Running$' 'service app:api: Starting$' \
            'service app:api: Running$' 'service app:audit: Starting$' \
            'service app:audit: Running$'
    fi
    signal TERM
    expect_exit 0 10
    in_order 'received shutdown signal' \
        'service app:audit: Stopping$' 'service app:audit: Stopped$' \
        'service app:api: Stopping$' 'service app:api: Stopped$' \
        'service app:db: Stopping$' 'service app:db: Stopped$' \
        'service app:cache: Stopping$' 'service app:cache: Stopped$' \
        'service app:host: Stopping$' 'service app:host: Stopped$'
    local s
    for s in audit api db cache; do
        grep -aqE $'\t'"$s cancelled"$'\t.*service stopping' "$W/out.log" ||
            fail "$s did not log a CANCEL with reason \"service stopping\""
    done
    stop_app
    report deps
}

# ---------------------------------------------------------------------------
case_stop_timeout() {
    new_app stop-timeout
    header
    write_stubborn 300ms
    init_app
    start_app
    need_line $'\tstubborn up' 1 10
    signal TERM
    expect_exit 0 10
    if need_line 'service app:stubborn-svc: stop timeout after 300 ms' 1 0; then
        gap_ok "Stopping -> stop timeout" "$(line_ms 'service app:stubborn-svc: Stopping$')" \
            "$(line_ms 'service app:stubborn-svc: stop timeout')" 210 900
    fi
    in_order 'service app:stubborn-svc: Stopping$' 'service app:stubborn-svc: stop timeout' \
        'service app:host: Stopping$' 'service app:host: Stopped$' 'stopped$'
    [ "$(count 'did not stop in time')" -eq 0 ] || fail "unexpected 'did not stop in time'"
    stop_app
    report stop-timeout
}

# ---------------------------------------------------------------------------
case_shutdown_timeout() {
    new_app shutdown-timeout
    header
    write_stubborn 5s
    init_app
    printf 'version: "1.0"\nshutdown:\n  timeout: 500ms\n' >"$W/.wippy.yaml"
    start_app
    need_line $'\tstubborn up' 1 10
    local t0
    t0=$(now_ms)
    signal TERM
    expect_exit 1 10
    if [ "$RC" != timeout ]; then
        local took=$((EXIT_MS - t0))
        [ "$took" -le 2500 ] || fail "exit took $took ms after SIGTERM, expected <= 2500"
    fi
    grep -aqE 'service app:stubborn-svc.*(did not stop|not stopped)' "$W/out.log" ||
        fail "no log line naming app:stubborn-svc as not stopped in time"
    local a b
    a=$(line_ms 'received shutdown signal')
    b=$(line_ms 'stopped$' last)
    [ -n "$b" ] && gap_ok "shutdown signal -> stopped" "$a" "$b" 300 2000
    stop_app
    report shutdown-timeout
}

# ---------------------------------------------------------------------------
# run_boot_error NAME: `wippy run -c` must fail at boot: exit 1, Error: on
# stderr. Output in $W/out.log and $W/err.log.
run_boot_error() {
    start_app
    expect_exit 1 10
    grep -aq '^Error:' "$W/err.log" || fail "no line starting with 'Error:' on stderr"
    if grep -aqE 'service app:[a-z]+: (Starting|Running)' "$W/out.log"; then
        fail "services were started despite the error"
    fi
}

case_dep_errors() {
    # a cycle a -> b -> c -> a
    new_app dep-cycle
    header
    cat >>"$W/src/_index.yaml" <<'EOF'
  - name: polite
    kind: process.lua
    source: file://polite.lua
    method: main
    modules: [logger, process]
  - name: alpha
    kind: process.service
    process: app:polite
    host: app:host
    input: ["alpha"]
    lifecycle:
      auto_start: true
      requires: [app:beta]
  - name: beta
    kind: process.service
    process: app:polite
    host: app:host
    input: ["beta"]
    lifecycle:
      requires: [app:gamma]
  - name: gamma
    kind: process.service
    process: app:polite
    host: app:host
    input: ["gamma"]
    lifecycle:
      depends_on: [app:alpha]
EOF
    write_polite
    init_app
    run_boot_error
    local e
    for e in app:alpha app:beta app:gamma; do
        grep -aq "^Error:.*$e" "$W/err.log" || fail "the Error: line does not name $e"
    done
    grep -aqi 'cycle' "$W/err.log" || fail "the error does not say 'cycle'"
    stop_app
    report "dep-errors: cycle"

    # an unknown dependency
    new_app dep-unknown
    header
    cat >>"$W/src/_index.yaml" <<'EOF'
  - name: polite
    kind: process.lua
    source: file://polite.lua
    method: main
    modules: [logger, process]
  - name: alpha
    kind: process.service
    process: app:polite
    host: app:host
    input: ["alpha"]
    lifecycle:
      auto_start: true
      requires: [app:nonexistent]
EOF
    write_polite
    init_app
    run_boot_error
    grep -aq '^Error:.*app:alpha' "$W/err.log" || fail "the Error: line does not name app:alpha"
    grep -aq '^Error:.*app:nonexistent' "$W/err.log" ||
        fail "the Error: line does not name app:nonexistent"
    stop_app
    report "dep-errors: unknown dependency"

    # a self-dependency is a cycle too
    new_app dep-self
    header
    cat >>"$W/src/_index.yaml" <<'EOF'
  - name: polite
    kind: process.lua
    source: file://polite.lua
    method: main
    modules: [logger, process]
  - name: alpha
    kind: process.service
    process: app:polite
    host: app:host
    input: ["alpha"]
    lifecycle:
      auto_start: true
      requires: [app:alpha]
EOF
    write_polite
    init_app
    run_boot_error
    grep -aq '^Error:.*app:alpha' "$W/err.log" || fail "the Error: line does not name app:alpha"
    stop_app
    report "dep-errors: self-dependency"

    # a chain of 1001 services, each requiring the next: refused (the
    # dependency sort recurses once per link)
    new_app dep-chain
    header
    local i
    {
        echo '  - {name: polite, kind: process.lua, source: file://polite.lua, method: main, modules: [logger, process]}'
        for i in $(seq 1 1001); do
            printf '  - {name: s%d, kind: process.service, process: app:polite, host: app:host, lifecycle: {requires: [app:s%d]}}\n' \
                "$i" "$((i + 1))"
        done | sed '$ s/, lifecycle: {requires: \[app:s1002\]}//'
    } >>"$W/src/_index.yaml"
    write_polite
    init_app
    run_boot_error
    grep -aq '^Error:.*more than 1000 services depend on each other in a chain' "$W/err.log" ||
        fail "the Error: line does not name the chain"
    stop_app
    report "dep-errors: chain of 1001 services"
}

# ---------------------------------------------------------------------------
case_start_timeout() {
    new_app start-timeout
    header
    cat >>"$W/src/_index.yaml" <<'EOF'
  - name: spin
    kind: process.lua
    source: file://spin.lua
    method: main
    modules: [time, logger]
  - name: spin-svc
    kind: process.service
    process: app:spin
    host: app:host
    lifecycle:
      auto_start: true
      start_timeout: 300ms
      restart:
        initial_delay: 100ms
        max_attempts: 2
EOF
    # busy for 2 s before the first blocking point (time.now() does not block)
    cat >"$W/src/spin.lua" <<'EOF'
local time = require("time")
local logger = require("logger")

local function main()
    logger:info("spin begins")
    local t0 = time.now():unix_nano()
    while time.now():unix_nano() - t0 < 2e9 do end
    logger:info("spin reached its blocking point")
    time.sleep("10s")
end

return { main = main }
EOF
    init_app
    start_app
    local S='service app:spin-svc: Starting$' T='service app:spin-svc: start timeout after 300 ms'
    local F='service app:spin-svc: Failed$'
    if need_line "$S" 2 10; then
        gap_ok "Starting -> start timeout" "$(line_ms "$S" 1)" "$(line_ms "$T" 1)" 210 900
        # the busy process is terminated, not left running until it blocks
        gap_ok "Starting -> Failed" "$(line_ms "$S" 1)" "$(line_ms "$F" 1)" 210 1500
        gap_ok "Failed -> restart" "$(line_ms "$F" 1)" "$(line_ms "$S" 2)" 70 400
        in_order "$S" "$T" "$F" 'service app:spin-svc: restarting in'
        # the restart times out as well; max_attempts 2 ends it
        need_line 'service app:spin-svc: giving up after 2 attempts' 1 10
        [ "$(count "$T")" -eq 2 ] || fail "expected 2 start timeouts, got $(count "$T")"
        [ "$(count 'service app:spin-svc: Running$')" -eq 0 ] ||
            fail "the spinning service was reported Running"
        [ "$(count 'reached its blocking point')" -eq 0 ] ||
            fail "a timed-out process kept running until its blocking point"
    fi
    signal TERM
    expect_exit 0 10
    stop_app
    report start-timeout
}

# ---------------------------------------------------------------------------
case_second_signal() {
    new_app second-signal
    header
    write_stubborn 5s
    init_app
    start_app
    need_line $'\tstubborn up' 1 10
    signal INT
    if need_line 'service app:stubborn-svc: Stopping$' 1 5; then
        local t0
        t0=$(now_ms)
        signal INT
        expect_exit 1 5
        if [ "$RC" != timeout ]; then
            local took=$((EXIT_MS - t0))
            [ "$took" -le 1000 ] || fail "exit took $took ms after the second SIGINT, expected < 1000"
        fi
        grep -aq $'\tforce exit' "$W/out.log" || fail "no 'force exit' log line"
        [ "$(count 'stop timeout after')" -eq 0 ] ||
            fail "the stop timeout expired: the second signal was not acted on at once"
    fi
    stop_app
    report second-signal
}

# ---------------------------------------------------------------------------
case_term_twice() {
    new_app term-twice
    header
    write_stubborn 500ms
    init_app
    start_app
    need_line $'\tstubborn up' 1 10
    signal TERM
    if need_line 'service app:stubborn-svc: Stopping$' 1 5; then
        signal TERM
        expect_exit 0 10
        need_line 'SIGTERM while shutting down' 1 0
        [ "$(count $'\tforce exit')" -eq 0 ] || fail "the second SIGTERM forced the exit"
        need_line 'service app:stubborn-svc: stop timeout after 500 ms' 1 0
    fi
    stop_app
    report term-twice
}

# ---------------------------------------------------------------------------
case_timeout_term() {
    new_app timeout-term
    header
    write_stubborn 300ms
    init_app
    : >"$W/out.log"
    : >"$W/err.log"
    # timeout(1) signals its child and then its own process group: the
    # runtime may see SIGTERM twice. --preserve-status: wippy's exit code.
    (cd "$W" && exec timeout --preserve-status -s TERM 3 "$WIPPY" run -c \
        >"$W/out.log" 2>"$W/err.log" </dev/null) &
    APP_PID=$!
    expect_exit 0 30
    need_line 'received shutdown signal' 1 0
    [ "$(count $'\tforce exit')" -eq 0 ] || fail "a SIGTERM from timeout(1) forced the exit"
    stop_app
    report timeout-term
}

# ---------------------------------------------------------------------------
case_parallel_stop() {
    new_app parallel-stop
    header
    write_stubborn 1s
    cat >>"$W/src/_index.yaml" <<'EOF'
  - name: stubborn-svc2
    kind: process.service
    process: app:stubborn
    host: app:host
    lifecycle:
      auto_start: true
      stop_timeout: 1s
EOF
    init_app
    start_app
    need_line $'\tstubborn up' 2 10
    signal TERM
    expect_exit 0 10
    # one after the other, the first would be cut off before the second
    # is even asked to stop
    local a b cut
    a=$(line_no 'service app:stubborn-svc: Stopping$')
    b=$(line_no 'service app:stubborn-svc2: Stopping$')
    cut=$(line_no 'stop timeout after')
    if [ -z "$a" ] || [ -z "$b" ] || [ -z "$cut" ]; then
        fail "missing Stopping or stop timeout lines"
    elif [ "$a" -gt "$cut" ] || [ "$b" -gt "$cut" ]; then
        fail "a service was cut off before the other one was asked to stop"
    fi
    [ "$(count 'stop timeout after')" -eq 2 ] || fail "expected two stop timeouts"
    in_order 'service app:stubborn-svc2?: Stopped$' 'service app:host: Stopping$' \
        'service app:host: Stopped$'
    [ "$(count 'service app:stubborn-svc2?: Stopped$')" -eq 2 ] ||
        fail "both services should end Stopped before the host stops"
    [ "$(count 'did not stop in time')" -eq 0 ] || fail "unexpected 'did not stop in time'"
    stop_app
    report parallel-stop
}

# ---------------------------------------------------------------------------
# input_app NAME LIST: a service whose `input:` is LIST; its process logs
# how many arguments it got and how deep the last one is nested.
input_app() {
    new_app "$1"
    header
    cat >>"$W/src/_index.yaml" <<EOF
  - name: args
    kind: process.lua
    source: file://args.lua
    method: main
    modules: [logger]
  - name: args-svc
    kind: process.service
    process: app:args
    host: app:host
    input: $2
    lifecycle:
      auto_start: true
EOF
    cat >"$W/src/args.lua" <<'EOF'
local logger = require("logger")

local function main(...)
    local depth, v = 0, select(select("#", ...), ...)
    while type(v) == "table" do depth, v = depth + 1, v[1] end
    logger:info(string.format("args %d last %d deep", select("#", ...), depth))
end

return { main = main }
EOF
    init_app
}

case_input() {
    # many arguments and a deep one: the list becomes the arguments
    local many deep
    many=$(seq -s ', ' 1 3000)
    deep="$(printf '[%.0s' $(seq 100))1$(printf ']%.0s' $(seq 100))"
    input_app input-many "[$many, $deep]"
    start_app
    need_line $'\targs 3001 last 100 deep' 1 10
    stop_app
    report "input: 3001 arguments, one 100 levels deep"

    # deeper than a message may be: refused at boot, naming the entry
    deep="$(printf '[%.0s' $(seq 200))1$(printf ']%.0s' $(seq 200))"
    input_app input-deep "[$deep]"
    run_boot_error
    grep -aq '^Error:.*app:args-svc: input: message too deep' "$W/err.log" ||
        fail "the Error: line does not say the input is too deep"
    stop_app
    report "input: nested deeper than a message"
}

# ---------------------------------------------------------------------------
all_cases=(backoff no-restart stable deps stop-timeout shutdown-timeout dep-errors
    start-timeout second-signal term-twice timeout-term parallel-stop input)
if [ $# -gt 0 ]; then
    cases=("$@")
else
    cases=("${all_cases[@]}")
fi
for c in "${cases[@]}"; do
    fn=case_${c//-/_}
    if declare -F "$fn" >/dev/null; then
        "$fn"
    else
        echo "not ok - $c (no such case)"
        failed=$((failed + 1))
    fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
