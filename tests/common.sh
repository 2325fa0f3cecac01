# tests/common.sh: how the shell test scripts begin (e2e/cli.sh, cluster/run.sh,
# e2e/echo.sh, supervision/echo_heals.sh, lua/harness/check.sh and the
# runners lua/run.sh and supervision/run.sh). Sourced with the script's arguments:
#   . "$(dirname "${BASH_SOURCE[0]}")/../common.sh" "$@"
# Checks the WIPPY_BINARY argument and sets WIPPY (its absolute path),
# HERE (the script's directory) and REPO (the repository root). A script
# taking more arguments names them in WIPPY_USAGE first, for the usage line.
if [ $# -lt 1 ]; then
    echo "usage: $0 WIPPY_BINARY${WIPPY_USAGE:+ $WIPPY_USAGE}" >&2
    exit 2
fi
abspath() {
    case $1 in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s/%s\n' "$(cd "$(dirname "$1")" && pwd)" "$(basename "$1")" ;;
    esac
}
WIPPY=$(abspath "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# wait_pid PID SECONDS: waits for the background job PID to exit (bash's
# wait, no polling); kills it if it outlives SECONDS. WAIT_RC = its exit
# status. Returns 1 when it had to be killed. The watchdog is one bash
# process waiting in `read -t` on a FIFO nobody writes, so that SIGKILL
# ends it whole: no child left behind, and no trap of this script run by a
# watchdog killed between its fork and its exec.
wait_pid() {
    local pid=$1 secs=$2 fifo wd fired
    fifo=$(mktemp -u) && mkfifo "$fifo" || return 2
    bash -c 'read -rt "$1" <>"$3"; kill -KILL "$2" 2>/dev/null' \
        wait_pid "$secs" "$pid" "$fifo" </dev/null >/dev/null 2>&1 &
    wd=$!
    wait "$pid"
    WAIT_RC=$?
    kill -KILL "$wd" 2>/dev/null
    wait "$wd" 2>/dev/null
    fired=$? # 0: it killed PID; 137: we ended it first; 1: PID was gone
    rm -f "$fifo"
    [ "$fired" -ne 0 ]
}

# wait_match FILE REGEX N SECONDS [PID]: waits until at least N lines of
# FILE match the extended REGEX (bash =~, as grep -E), for at most SECONDS,
# or until PID has exited with the lines still missing. Returns 0 when
# found. No polling: `tail -F` wakes on each write to FILE (inotify); FILE
# is created empty if missing (tail would look for it once a second). A
# last line still without its newline (a prompt) counts once nothing more
# has come.
wait_match() {
    local file=$1 re=$2 n=$3 secs=$4 pid=${5:-} k=0 c buf= fd tp
    [ -e "$file" ] || : >>"$file"
    exec {fd}< <(exec timeout "$secs" tail -c +1 -F ${pid:+--pid="$pid"} -- "$file" 2>/dev/null)
    tp=$!
    while [ "$k" -lt "$n" ] && IFS= read -r -N 1 -u "$fd" c; do
        if [ "$c" = $'\n' ]; then
            [[ $buf =~ $re ]] && k=$((k + 1))
            buf=
        else
            buf+=$c
            if [ "$k" -eq $((n - 1)) ] && ! read -t 0 -u "$fd" && [[ $buf =~ $re ]]; then
                k=$n
            fi
        fi
    done
    kill "$tp" 2>/dev/null
    exec {fd}<&-
    [ "$k" -ge "$n" ]
}

# verdict NAME: the ok/not ok line of one check from the reasons a script
# collected in $reasons (its fail function appends to them): "ok - NAME"
# counted in $passed, or "not ok - NAME" with each reason, counted in
# $failed. Clears $reasons. Returns 1 on a failure, for the caller to show
# what it captured.
verdict() {
    local r
    if [ ${#reasons[@]} -eq 0 ]; then
        echo "ok - $1"
        passed=$((passed + 1))
        return 0
    fi
    echo "not ok - $1"
    for r in "${reasons[@]}"; do echo "    # $r"; done
    failed=$((failed + 1))
    reasons=()
    return 1
}
