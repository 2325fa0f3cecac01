# shellcheck shell=bash
# shellcheck disable=SC2034  # variables here are used by the sourcing scripts
# Shared helpers for tests/supervision/*.sh (sourced, not run).
#
# Expects WIPPY (absolute path of the binary) and TMPROOT (a private
# temporary directory) to be set by the sourcing script. Every app runs in
# its own directory $W under $TMPROOT; `wippy run -c` writes its log to
# $W/out.log and its stderr to $W/err.log.
#
# Synchronisation is always "poll a file until a line appears, with a
# bounded wait"; timing checks compare the timestamps of log lines.

passed=0
failed=0
reasons=()
W=
EXIT_MS=
APP_PID=
RC=

fail() { reasons+=("$*"); }

indent() { sed 's/^/    | /'; }

# report NAME: print ok/not ok from the collected $reasons (with the logs of
# the current app on failure) and reset the reasons.
report() {
    local name=$1
    if [ -n "$W" ] && grep -aqE 'Sanitizer|runtime error:' "$W/out.log" "$W/err.log" 2>/dev/null; then
        fail "sanitizer report"
    fi
    if [ ${#reasons[@]} -eq 0 ]; then
        echo "ok - $name"
        passed=$((passed + 1))
    else
        echo "not ok - $name"
        local r f
        for r in "${reasons[@]}"; do echo "    # $r"; done
        for f in init.out out.log err.log; do
            if [ -n "$W" ] && [ -s "$W/$f" ]; then
                echo "    --- $f:"
                cat -v "$W/$f" | indent
            fi
        done
        failed=$((failed + 1))
    fi
    reasons=()
}

now_ms() { date +%s%3N; }

# new_app NAME: fresh app directory $W with an empty src/.
new_app() {
    W=$TMPROOT/$1
    rm -rf "$W"
    mkdir -p "$W/src"
    APP_PID=
    RC=
}

# init_app: `wippy init -s` in $W.
init_app() {
    (cd "$W" && "$WIPPY" init -s >init.out 2>&1)
    local rc=$?
    [ $rc -eq 0 ] || fail "wippy init -s exited $rc"
}

# start_app [ARGS...]: `wippy run -c ARGS` in the background; APP_PID is the
# wippy process itself (the subshell execs it).
start_app() {
    : >"$W/out.log"
    : >"$W/err.log"
    (cd "$W" && exec "$WIPPY" run -c "$@" >"$W/out.log" 2>"$W/err.log" </dev/null) &
    APP_PID=$!
}

alive() { [ -n "$APP_PID" ] && kill -0 "$APP_PID" 2>/dev/null; }

# count REGEX: number of log lines matching the extended regex.
count() { grep -acE -- "$1" "$W/out.log" 2>/dev/null || true; }

# wait_line REGEX [N] [SECONDS]: wait until at least N (default 1) log lines
# match; gives up after SECONDS (default 10) or when wippy has exited and
# the line is still missing. Returns 0 when found.
wait_line() {
    alive || { [ "$(count "$1")" -ge "${2:-1}" ]; return; }
    wait_match "$W/out.log" "$1" "${2:-1}" "${3:-10}" "$APP_PID"
}

# need_line REGEX [N] [SECONDS]: wait_line, recording a failure.
need_line() {
    wait_line "$@" && return 0
    fail "no log line /$1/ (wanted ${2:-1}, saw $(count "$1")) within ${3:-10}s"
    return 1
}

# wait_exit SECONDS: wait for wippy to exit; RC = its exit code, or "timeout"
# (it is then killed). EXIT_MS = the time it was seen gone.
wait_exit() {
    if [ -z "$APP_PID" ]; then # nothing running (as `wait ""` said before)
        EXIT_MS=$(now_ms)
        RC=1
        return 0
    fi
    if wait_pid "$APP_PID" "$1"; then
        RC=$WAIT_RC
    else
        RC=timeout
    fi
    EXIT_MS=$(now_ms)
    APP_PID=
    [ "$RC" != timeout ]
}

# expect_exit CODE SECONDS: wait_exit and check the exit code.
expect_exit() {
    if ! wait_exit "$2"; then
        fail "wippy did not exit within $2 s (killed)"
    elif [ "$RC" != "$1" ]; then
        fail "exit code $RC, expected $1"
    fi
}

# stop_app: if wippy still runs (a case failed early), kill it.
stop_app() {
    if alive; then
        kill -KILL "$APP_PID" 2>/dev/null
        wait "$APP_PID" 2>/dev/null
    fi
    APP_PID=
}

signal() { [ -n "$APP_PID" ] && kill -"$1" "$APP_PID" 2>/dev/null; }

# ts2ms: RFC 3339 timestamps on stdin (one a line) -> milliseconds since the
# epoch; "-" for a line that is not one.
ts2ms() {
    awk '
    function days(y, m, d,   era, yoe, doy, doe) {
        y -= (m <= 2)
        era = int((y >= 0 ? y : y - 399) / 400)
        yoe = y - era * 400
        doy = int((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1
        doe = yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy
        return era * 146097 + doe - 719468
    }
    {
        s = $0
        if (!match(s, /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][Tt ][0-9][0-9]:[0-9][0-9]:[0-9][0-9]/)) {
            print "-"; next
        }
        y = substr(s, 1, 4) + 0; mo = substr(s, 6, 2) + 0; d = substr(s, 9, 2) + 0
        h = substr(s, 12, 2) + 0; mi = substr(s, 15, 2) + 0; se = substr(s, 18, 2) + 0
        rest = substr(s, 20)
        ms = 0
        if (substr(rest, 1, 1) == "." || substr(rest, 1, 1) == ",") {
            frac = substr(rest, 2)
            match(frac, /^[0-9]*/)
            digits = substr(frac, 1, RLENGTH)
            rest = substr(frac, RLENGTH + 1)
            digits = substr(digits "000", 1, 3)
            ms = digits + 0
        }
        off = 0
        c = substr(rest, 1, 1)
        if (c == "+" || c == "-") {
            oh = substr(rest, 2, 2) + 0
            om = (substr(rest, 4, 1) == ":" ? substr(rest, 5, 2) : substr(rest, 4, 2)) + 0
            off = (oh * 60 + om) * 60
            if (c == "-") off = -off
        }
        secs = days(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off
        printf "%.0f\n", secs * 1000 + ms
    }'
}

# line_ms REGEX [K]: timestamp (ms) of the K-th (default 1st; "last" for the
# last) log line matching REGEX; empty when there is none.
line_ms() {
    local re=$1 k=${2:-1} line
    if [ "$k" = last ]; then
        line=$(grep -aE -- "$re" "$W/out.log" | tail -n 1)
    else
        line=$(grep -aE -- "$re" "$W/out.log" | sed -n "${k}p")
    fi
    [ -n "$line" ] || return 0
    # the timestamp normally starts the line, but output without a newline
    # (a prompt) may precede it
    printf '%s\n' "$line" |
        grep -aoE '[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}([.,][0-9]+)?(Z|z|[+-][0-9]{2}:?[0-9]{2})?' |
        head -n 1 | ts2ms | grep -v '^-$' || true
}

# line_no REGEX [K]: line number of the K-th match (empty when none).
line_no() {
    grep -anE -- "$1" "$W/out.log" | sed -n "${2:-1}p" | cut -d: -f1
}

# gap_ok WHAT FROM_MS TO_MS LO HI: check LO <= TO-FROM <= HI.
gap_ok() {
    local what=$1 a=$2 b=$3 lo=$4 hi=$5
    if [ -z "$a" ] || [ -z "$b" ]; then
        fail "$what: missing timestamp"
        return 1
    fi
    local g=$((b - a))
    if [ "$g" -lt "$lo" ] || [ "$g" -gt "$hi" ]; then
        fail "$what: $g ms, expected $lo..$hi ms"
        return 1
    fi
    return 0
}

# in_order REGEX...: the first matches of the regexes occur on strictly
# increasing lines.
in_order() {
    local prev=0 re n
    for re in "$@"; do
        n=$(line_no "$re")
        if [ -z "$n" ]; then
            fail "order: no line /$re/"
            return 1
        fi
        if [ "$n" -le "$prev" ]; then
            fail "order: /$re/ (line $n) should come after line $prev"
            return 1
        fi
        prev=$n
    done
    return 0
}

# The app pieces the cases share.

# heartbeat.lua: logs "heartbeat" every 100 ms, returns on CANCEL.
write_heartbeat() {
    cat >"$W/src/heartbeat.lua" <<'EOF'
local time = require("time")
local logger = require("logger")

local function main()
    local events = process.events()
    local n = 0
    while true do
        local r = channel.select { events:case_receive(), time.after("100ms"):case_receive() }
        if r.channel == events then
            if r.value.kind == process.event.CANCEL then return 0 end
        else
            n = n + 1
            logger:info("heartbeat", { n = n })
        end
    end
end

return { main = main }
EOF
}

# polite.lua: logs "<name> up", waits for CANCEL, logs "<name> cancelled"
# and returns.
write_polite() {
    cat >"$W/src/polite.lua" <<'EOF'
local logger = require("logger")

local function main(name)
    local events = process.events()
    logger:info(tostring(name) .. " up")
    while true do
        local ev = events:receive()
        if ev and ev.kind == process.event.CANCEL then
            logger:info(tostring(name) .. " cancelled", { reason = ev.reason })
            return 0
        end
    end
end

return { main = main }
EOF
}

# write_stubborn STOP_TIMEOUT: stubborn.lua, which never looks at its events
# (so CANCEL is ignored), and its entries after header's: the process and
# the auto-started service app:stubborn-svc with that stop_timeout.
write_stubborn() {
    cat >>"$W/src/_index.yaml" <<EOF
  - name: stubborn
    kind: process.lua
    source: file://stubborn.lua
    method: main
    modules: [time, logger]
  - name: stubborn-svc
    kind: process.service
    process: app:stubborn
    host: app:host
    lifecycle:
      auto_start: true
      stop_timeout: $1
EOF
    cat >"$W/src/stubborn.lua" <<'EOF'
local time = require("time")
local logger = require("logger")

local function main()
    logger:info("stubborn up")
    while true do
        time.sleep("50ms")
    end
end

return { main = main }
EOF
}
