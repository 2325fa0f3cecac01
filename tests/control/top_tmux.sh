#!/usr/bin/env bash
# wippy top on a terminal: run in tmux against a node running the known
# workload of tests/control/app, its screen read with capture-pane.
#
#   tests/control/top_tmux.sh WIPPY_BINARY
#
# Checks: the numbers on the screen match the workload (2 workers, 52
# processes on app:processes, the flaky service failed after 2 restarts);
# `b` ranks by mailbox with the hoarder's 300 messages first, the
# selection (reverse video) starts there and moves with the Down key; `c`
# and `m` change the ranking; the view lays out again when the terminal is
# resized; Enter inspects the selected process; `q` quits with exit 0. And
# log colours: on a terminal, but not with NO_COLOR set nor in JSON.
#
# The screen is read until what is awaited shows (each wait bounded: a
# failure limit); tmux runs on a server of the test's own (-L).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh" "$@"
command -v tmux >/dev/null || { echo "tmux is needed (tools/deps.sh --test)" >&2; exit 2; }
. "$HERE/lib.sh"
setup_tmp
TM=(tmux -L "wippy-top-test-$$" -f /dev/null)
# shellcheck disable=SC2016 # expanded by cleanup
EXTRA_CLEANUP='"${TM[@]}" kill-server 2>/dev/null'
trap cleanup EXIT
trap 'exit 130' INT TERM

screen() { "${TM[@]}" capture-pane -p -t top "$@" 2>/dev/null; }

# need_screen REGEX [SECONDS]: waits until a line of the pane matches.
need_screen() {
    local end=$((SECONDS + ${2:-15}))
    while [ $SECONDS -lt $end ]; do
        screen | grep -qE -- "$1" && return 0
        sleep 0.1 # reading the pane again: tmux has no event for "this text showed"
    done
    fail "the screen never showed /$1/"
    return 1
}

# the pane's line (1-based) holding reverse video, as capture-pane -e shows it
selected_line() { screen -e | grep -n $'\e\\[7m' | head -1 | cut -d: -f1; }

new_app top
# shellcheck disable=SC2119 # no arguments: a plain node
start_node
workload
"${TM[@]}" new-session -d -s top -x 150 -y 45 \
    "cd '$W' && '$WIPPY' top; echo \"TOP EXIT \$?\" >'$TMPROOT/top.exit'; sleep 600"

need_screen "^wippy top - node local \\(pid $NODE\\) - up [0-9:]+ - sort: mem$"
need_screen '^workers 2: #0 runq [0-9]+ util +[0-9]+%  #1 runq [0-9]+ util +[0-9]+%'
need_screen '^processes: 52  waiting 52  runnable 0  running 0'
need_screen 'app:processes 52'
need_screen 'app:flaky-service failed \(2 restarts\)'
need_screen 'app:main-service running \(0 restarts\)'
need_screen '^PID +ENTRY +HOST +STATE +MEM +MAILBOX +CPU ms'
need_screen '^rates: spawns [0-9.]+/s  exits [0-9.]+/s  msgs [0-9.]+/s'
need_screen '^memory: rss [0-9.]+ [KMG]iB  processes [0-9.]+ KiB'
check "the screen shows the workload"

"${TM[@]}" send-keys -t top b
if need_screen 'sort: mailbox$'; then
    hdr=$(screen | grep -n '^PID ' | cut -d: -f1)
    first=$(screen | sed -n "$((hdr + 1))p")
    [[ $first == "$HOARDER"*"app:hoarder"*" waiting "*" 300 "* ]] || fail "first row by mailbox: $first"
    sel=$(selected_line)
    [ "$sel" = $((hdr + 1)) ] || fail "the selection is on line $sel, not the first row ($((hdr + 1)))"
    "${TM[@]}" send-keys -t top Down
    end=$((SECONDS + 10))
    while [ "$(selected_line)" != $((hdr + 2)) ] && [ $SECONDS -lt $end ]; do sleep 0.1; done
    [ "$(selected_line)" = $((hdr + 2)) ] || fail "Down did not move the selection (line $(selected_line))"
    "${TM[@]}" send-keys -t top Up
fi
"${TM[@]}" send-keys -t top c
need_screen 'sort: cpu$'
"${TM[@]}" send-keys -t top m
need_screen 'sort: mem$'
check "keys: b/c/m rank by mailbox, cpu, mem; arrows move the selection"

"${TM[@]}" resize-window -t top -x 72 -y 20
end=$((SECONDS + 15))
while [ $SECONDS -lt $end ]; do
    s=$(screen)
    [ "$(wc -l <<<"$s")" -le 20 ] && ! awk 'length > 72 { bad = 1 } END { exit !bad }' <<<"$s" &&
        grep -q '^services: ' <<<"$s" && grep -q '^PID ' <<<"$s" && break
    sleep 0.1
done
s=$(screen)
awk 'length > 72 { bad = 1 } END { exit !bad }' <<<"$s" && fail "lines wider than 72 after the resize"
grep -q '^PID ' <<<"$s" || fail "no table after the resize"
grep -q '^ *app:flaky-service failed (2 restarts)' <<<"$s" ||
    fail "the services line did not wrap to the new width"
[ "$(tail -1 <<<"$s" | cut -c1-3)" = "m/b" ] || fail "the key line is not at the bottom: $(tail -1 <<<"$s")"
"${TM[@]}" resize-window -t top -x 150 -y 45
need_screen 'app:main-service running \(0 restarts\)  app:flaky-service failed'
check "the view lays out again when the terminal is resized"

"${TM[@]}" send-keys -t top Enter
need_screen '^inspect \{app:processes\|0x[0-9a-f]+\}$' &&
    need_screen '^entry +app:' && need_screen '^mailbox +[0-9]+'
"${TM[@]}" send-keys -t top x
need_screen '^PID +ENTRY'
"${TM[@]}" send-keys -t top q
wait_match "$TMPROOT/top.exit" '^TOP EXIT' 1 10 || fail "top did not quit on q"
grep -q '^TOP EXIT 0$' "$TMPROOT/top.exit" 2>/dev/null || fail "top exited: $(cat "$TMPROOT/top.exit" 2>/dev/null)"
check "Enter inspects the selection; q quits with 0"

stop_node 0
check "the node stops"

# ---- log colours (a terminal in tmux) ----
run_logs() { # NAME ENV... : wippy run -c -x logme in a fresh pane, its screen in $TMPROOT/NAME
    local name=$1
    shift
    "${TM[@]}" new-window -d -n "$name" \
        "cd '$W' && env $* '$WIPPY' run -c -x app:terminal/app:logme; echo DONE >'$TMPROOT/$name.done'; sleep 600"
    wait_match "$TMPROOT/$name.done" DONE 1 30 || fail "$name: the run did not end"
    "${TM[@]}" capture-pane -p -e -t "$name" >"$TMPROOT/$name.screen"
}
run_logs plain
grep -q $'\e\\[[0-9;]*m.*INFO' "$TMPROOT/plain.screen" || fail "no colour on a terminal"
run_logs nocolor NO_COLOR=1
grep -q 'INFO' "$TMPROOT/nocolor.screen" || fail "NO_COLOR: no log lines"
grep -q $'\e\\[3[0-9]m' "$TMPROOT/nocolor.screen" && fail "colours with NO_COLOR set"
"${TM[@]}" new-window -d -n json2 \
    "cd '$W' && '$WIPPY' run -c --log-format json -x app:terminal/app:logme; echo DONE >'$TMPROOT/json2.done'; sleep 600"
wait_match "$TMPROOT/json2.done" DONE 1 30 || fail "json: the run did not end"
"${TM[@]}" capture-pane -p -e -t json2 >"$TMPROOT/json2.screen"
grep -q '"level":"info"' "$TMPROOT/json2.screen" || fail "json: no JSON lines"
grep -q $'\e\\[3[0-9]m' "$TMPROOT/json2.screen" && fail "colours in JSON lines"
check "log colours only on a terminal, never with NO_COLOR or in JSON"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
