#!/usr/bin/env bash
# The Prometheus endpoint (--metrics, prometheus.enabled) and the Lua
# `metrics` module against a node running a known workload
# (tests/metrics/app: 6 processes that end normally, one of them
# preempted, 3 that fail, 1 terminated, 1 killed by a link, a service
# restarted twice, 4 messages sent, a timer held; at shutdown one process
# killed by its host's stop; the module's known values and error rows).
#
#   tests/metrics/metrics.sh WIPPY_BINARY
#
# Checks, each an ok/not ok line: the scrape's values against the
# workload; the exits of a shutdown, scraped while it runs; `promtool
# check metrics` on it; the module's rows (the app
# prints "metrics module ok" or what failed); without a collector a call
# is nil, Internal; prometheus.enabled/address from the configuration; a
# port that cannot be bound and a bad address are boot errors.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh" "$@"
for t in curl promtool python3; do
    command -v $t >/dev/null || { echo "$t is needed (tools/deps.sh --test)" >&2; exit 2; }
done
. "$REPO/tests/control/lib.sh"
setup_tmp
trap cleanup EXIT
trap 'exit 130' INT TERM

# a free loopback port (the kernel's pick, released for the node to take)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# val FILE SERIES: the value of one series line (exact text before the value)
# (the series comes through the environment: awk -v would unescape it)
val() { K=$2 awk '$0 !~ /^#/ { v = $NF; $NF = ""; sub(/ $/, ""); if ($0 == ENVIRON["K"]) print v }' "$1"; }
want() { # want FILE SERIES VALUE
    local got
    got=$(val "$1" "$2")
    [ "$got" = "$3" ] || fail "$2 is ${got:-absent}, not $3"
}

# ---- a node with --metrics and the known workload ----
new_app main
PORT=$(free_port)
start_node --metrics "127.0.0.1:$PORT"
need_log 'workload ready' && need_log 'service app:flaky-service: giving up after 3 attempts'
need_log 'metrics module ok' 1 1 || grep -a 'metrics module FAIL' "$LOG" | while read -r l; do echo "    # $l"; done
check "the metrics module: known values and every error row"

M=$TMPROOT/metrics.txt
curl -fsS "http://127.0.0.1:$PORT/metrics" -o "$M" -D "$TMPROOT/headers" || fail "curl /metrics failed"
grep -qi '^content-type: text/plain; version=0.0.4' "$TMPROOT/headers" || fail "content type: $(grep -i content-type "$TMPROOT/headers")"
check "GET /metrics answers text/plain; version=0.0.4"

promtool check metrics <"$M" >"$TMPROOT/promtool.out" 2>&1 || fail "promtool: $(cat "$TMPROOT/promtool.out")"
check "promtool check metrics accepts the output"

# main + 5 ok + spin + 2 bad + idle + chain + chain's bad + 3 flaky runs
# + stubborn; the lingerer on its own host
want "$M" 'wippy_processes_spawned_total{host="app:processes"}' 16
want "$M" 'wippy_processes_spawned_total{host="app:late"}' 1
want "$M" 'wippy_processes_exited_total{host="app:processes",reason="normal"}' 6
want "$M" 'wippy_processes_exited_total{host="app:processes",reason="error"}' 6
want "$M" 'wippy_processes_exited_total{host="app:processes",reason="terminated"}' 1
want "$M" 'wippy_processes_exited_total{host="app:processes",reason="linked"}' 1
want "$M" 'wippy_processes{host="app:processes",state="waiting"}' 2
want "$M" 'wippy_processes{host="app:late",state="waiting"}' 1
check "processes: spawned, exited by host and reason, live by host and state"
want "$M" 'wippy_service_restarts_total{service="app:flaky-service"}' 2
want "$M" 'wippy_service_restarts_total{service="app:main-service"}' 0
check "service restarts"
# main's 4 to itself; received: those, main's 10 EXITs, chain's link
# down, flaky's 3 timers
want "$M" 'wippy_messages_sent_total' 4
want "$M" 'wippy_messages_received_total' 18
want "$M" 'wippy_timers_armed' 1
want "$M" 'wippy_timers_fired_total' 3
for f in runs steals parks; do
    grep -qE "^wippy_scheduler_${f}_total\\{worker=\"0\"\\} [0-9]" "$M" || fail "no wippy_scheduler_${f}_total for worker 0"
done
awk '/^wippy_scheduler_preemptions_total/ { n += $NF } END { exit !(n >= 1) }' "$M" ||
    fail "the spinning process was not counted as preempted"
grep -qE '^wippy_worker_busy_seconds_total\{worker="1"\} [0-9]' "$M" || fail "no busy time for worker 1"
awk '/^wippy_memory_rss_bytes / { exit !($2 > 1000000) }' "$M" || fail "rss"
awk '/^wippy_memory_process_bytes / { exit !($2 > 1000) }' "$M" || fail "process bytes"
check "messages sent and received, timers, scheduler counters (preemptions too), worker busy time, memory"

want "$M" 'app_jobs_total{queue="a"}' 3
want "$M" 'app_jobs_total{queue="b"}' 1
want "$M" 'app_bytes_total' 6.5
want "$M" 'app_inflight' 1
want "$M" 'app_temperature{floor="3",room="x"}' 42.5
want "$M" 'app_latency_seconds_bucket{le="0.25"}' 0
want "$M" 'app_latency_seconds_bucket{le="0.5"}' 1
want "$M" 'app_latency_seconds_bucket{le="+Inf"}' 2
want "$M" 'app_latency_seconds_sum' 2.3
want "$M" 'app_latency_seconds_count' 2
want "$M" 'app_quoted_total{v="a\"b\\c\nd"}' 1
grep -q '^# TYPE app_latency_seconds histogram$' "$M" || fail "histogram TYPE line"
grep -q '^# TYPE app_inflight gauge$' "$M" || fail "gauge TYPE line"
check "the app's metrics on the same endpoint"

code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/other")
[ "$code" = 404 ] || fail "GET /other: $code, not 404"
check "another path is 404"

# ---- a port that cannot be bound: a boot error ----
(cd "$W" && "$WIPPY" run --metrics "127.0.0.1:$PORT" -x app:terminal/app:nometrics >"$TMPROOT/busy.out" 2>&1) \
    && fail "a node on a taken port ran"
grep -q "cannot serve metrics on 127.0.0.1:$PORT" "$TMPROOT/busy.out" || fail "no clear error: $(tail -2 "$TMPROOT/busy.out")"
(cd "$W" && "$WIPPY" run --metrics nonsense >"$TMPROOT/bad.out" 2>&1) && fail "a bad address ran"
grep -q "want HOST:PORT" "$TMPROOT/bad.out" || fail "no clear error: $(tail -2 "$TMPROOT/bad.out")"
check "a taken port and a bad address are boot errors"

# ---- a shutdown: its exits, scraped while it runs ----
# SIGTERM stops the services in reverse dependency order: main, then the
# host app:processes (it kills stubborn after its stop_timeout), then the
# lingerer, which says so and stays; a second signal (SIGINT) ends it all.
force_stop() {
    kill -TERM "$NODE"
    need_log 'lingerer cancelled'
    [ "${1:-}" = scrape ] && { curl -fsS "http://127.0.0.1:$PORT/metrics" -o "$M" || fail "curl during the shutdown failed"; }
    kill -INT "$NODE"
    if ! wait_pid "$NODE" 60; then
        fail "the node did not stop within 60 s of its second signal"
    elif [ "$WAIT_RC" -ne 1 ]; then
        fail "a forced stop exited with $WAIT_RC, not 1"
    fi
    NODE=
}
force_stop scrape
want "$M" 'wippy_processes_exited_total{host="app:processes",reason="shutdown"}' 1
want "$M" 'wippy_processes_exited_total{host="app:processes",reason="terminated"}' 2
check "a shutdown: the process its host killed counts as shutdown, the service stopped as terminated"

# ---- no collector: nil, Internal ----
(cd "$W" && "$WIPPY" run -x app:terminal/app:nometrics >"$TMPROOT/none.out" 2>&1) \
    || fail "without --metrics: $(tail -3 "$TMPROOT/none.out")"
check "without a collector the module answers nil, Internal"

# ---- prometheus.enabled / prometheus.address ----
PORT=$(free_port)
start_node --set prometheus.enabled=true --set "prometheus.address=127.0.0.1:$PORT"
need_log 'workload ready'
need_log "metrics at http://127.0.0.1:$PORT/metrics"
curl -fsS "http://127.0.0.1:$PORT/metrics" -o "$M" || fail "curl via the configuration failed"
want "$M" 'app_jobs_total{queue="a"}' 3
force_stop
check "prometheus.enabled and prometheus.address in the configuration"

echo "# $passed passed, $failed failed"
[ "$failed" -eq 0 ]
