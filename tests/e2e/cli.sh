#!/usr/bin/env bash
# End-to-end tests of the command line: bad input, flags, exit codes, pipes
# and signals.
#
#   tests/e2e/cli.sh WIPPY_BINARY
#
# Every bad-input check expects "Error: ..." on stderr and exit code exactly
# 1 (not a signal, not the sanitizer exit code 86).
set -u

. "$(dirname "${BASH_SOURCE[0]}")/../common.sh" "$@"
if [ -n "${WIPPY_SEED_DIR:-}" ]; then
    SEED=$WIPPY_SEED_DIR
elif [ -d "$REPO/tests/fixtures/seed/src" ]; then
    SEED=$REPO/tests/fixtures/seed
else
    SEED=$REPO/../shared/seed/echo-service
fi

if [ ! -x "$WIPPY" ]; then
    echo "wippy binary not found or not executable: $WIPPY" >&2
    exit 2
fi

TMPROOT=$(mktemp -d "${TMPDIR:-/tmp}/wippy-e2e-cli.XXXXXX")
BGPIDS=()
cleanup() {
    local p
    for p in "${BGPIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$TMPROOT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Background jobs of a non-interactive shell start with SIGINT ignored; reset
# it so the SIGINT test sees what a terminal user would.
if env --default-signal=INT true 2>/dev/null; then
    DEFSIG=(env --default-signal=INT)
else
    DEFSIG=()
fi

passed=0
failed=0
reasons=()
fail() { reasons+=("$*"); }
indent() { sed 's/^/    | /'; }

report() { # NAME WORKDIR
    local name=$1 work=$2 r f
    if [ ${#reasons[@]} -eq 0 ]; then
        echo "ok - $name"
        passed=$((passed + 1))
    else
        echo "not ok - $name"
        for r in "${reasons[@]}"; do echo "    # $r"; done
        for f in stdout stderr out; do
            if [ -f "$work/$f" ]; then
                echo "    --- $f (first 40 lines):"
                head -40 "$work/$f" | cat -v | indent
            fi
        done
        failed=$((failed + 1))
    fi
    reasons=()
}

# newproj NAME: empty project dir with src/ and a wippy.lock (written by
# `wippy init -s`); prints the path
newproj() {
    local work=$TMPROOT/$1
    rm -rf "$work"
    mkdir -p "$work/src"
    (cd "$work" && "$WIPPY" init -s >/dev/null 2>&1) || fail "wippy init -s failed"
    printf '%s\n' "$work"
}

# the usual hosts + a terminal entry app:test running test.lua
write_app() { # WORK [TEST_LUA_BODY]
    cat >"$1/src/_index.yaml" <<'Y'
version: "1.0"
namespace: app

entries:
  - name: terminal
    kind: terminal.host
    lifecycle:
      auto_start: true

  - name: processes
    kind: process.host
    lifecycle:
      auto_start: true

  - name: test
    kind: process.lua
    source: file://test.lua
    method: main
    modules: [io, time]
Y
    local body='return { main = function() return 0 end }'
    [ $# -ge 2 ] && body=$2
    printf '%s\n' "$body" >"$1/src/test.lua"
}

# run_in WORK TIMEOUT ARGS...: run wippy in WORK, stdin from /dev/null
run_in() {
    local work=$1 t=$2
    shift 2
    (cd "$work" && timeout -k 5 "$t" "$WIPPY" "$@" </dev/null >stdout 2>stderr) 2>/dev/null
    rc=$?
}

no_sanitizer() {
    local f
    for f in "$@"; do
        if [ -f "$f" ] && grep -aqE 'Sanitizer|runtime error:' "$f"; then
            fail "sanitizer report in $(basename "$f")"
        fi
    done
}

# expect_error WORK PATTERN...: exit 1, stderr starts with "Error: " and
# matches every extended regex PATTERN
expect_error() {
    local work=$1 p
    shift
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        fail "timed out (exit $rc)"
    elif [ $rc -ne 1 ]; then
        fail "exit code $rc, expected 1"
    fi
    if ! head -1 "$work/stderr" | grep -q '^Error: '; then
        fail "stderr does not start with 'Error: '"
    fi
    for p in "$@"; do
        grep -aqE -- "$p" "$work/stderr" || fail "stderr does not match /$p/"
    done
    no_sanitizer "$work/stdout" "$work/stderr"
}

# ---------------------------------------------------------------- bad input

w=$(newproj yaml_syntax)
write_app "$w"
# line 10 is mis-indented
cat >"$w/src/_index.yaml" <<'Y'
version: "1.0"
namespace: app
entries:
  - name: terminal
    kind: terminal.host
    lifecycle: { auto_start: true }
  - name: test
    kind: process.lua
    source: file://test.lua
   modules: [io]
Y
run_in "$w" 20 run -x app:test
expect_error "$w" '_index\.yaml' '_index\.yaml:10([^0-9]|$)|_index\.yaml.*line 10([^0-9]|$)'
report "YAML syntax error names the file and the 1-based line" "$w"

w=$(newproj yaml_syntax_nested)
write_app "$w"
mkdir -p "$w/src/more"
printf 'namespace: app.more\nentries:\n\t- name: x\n' >"$w/src/more/extra.yaml"
run_in "$w" 20 run -x app:test
expect_error "$w" 'more/extra\.yaml' 'extra\.yaml:3([^0-9]|$)|extra\.yaml.*line 3([^0-9]|$)'
report "YAML syntax error in a nested definition file (tab at line 3)" "$w"

w=$(newproj dup_id)
write_app "$w"
printf 'namespace: app\nentries:\n  - name: dup\n    kind: process.host\n' >"$w/src/a.yaml"
printf 'namespace: app\nentries:\n  - name: dup\n    kind: process.host\n' >"$w/src/b.yaml"
run_in "$w" 20 run -x app:test
expect_error "$w" 'app:dup' '[Dd]uplicate'
report "duplicate entry id" "$w"

w=$(newproj missing_source)
write_app "$w"
sed -i 's#file://test.lua#file://missing.lua#' "$w/src/_index.yaml"
run_in "$w" 20 run -x app:test
expect_error "$w" 'missing\.lua'
report "missing file:// source" "$w"

w=$(newproj lua_syntax)
write_app "$w" 'local x = 1
return { main = function()
    return x +
end }'
run_in "$w" 20 run -x app:test
expect_error "$w" 'test\.lua:4([^0-9]|$)'
report "Lua syntax error is reported as test.lua:LINE" "$w"

w=$(newproj unknown_entry)
write_app "$w"
run_in "$w" 20 run -x app:nope
expect_error "$w" 'app:nope'
report "unknown -x entry" "$w"

w=$(newproj exec_no_colon)
write_app "$w"
run_in "$w" 20 run -x test
expect_error "$w"
report "-x without ':'" "$w"

w=$(newproj exec_bad_host)
write_app "$w"
run_in "$w" 20 run -x app:nohost/app:test
expect_error "$w" 'app:nohost'
report "-x with an unknown host part" "$w"

w=$(newproj exec_two_slashes)
write_app "$w"
run_in "$w" 20 run -x app:terminal/app:test/x
expect_error "$w"
report "-x with two '/'" "$w"

w=$(newproj exec_process_as_host)
write_app "$w"
run_in "$w" 20 run -x app:test/app:test
expect_error "$w" 'app:test'
report "-x whose host part is not a host" "$w"

w=$(newproj unknown_flag)
write_app "$w"
run_in "$w" 20 run --bogus-flag -x app:test
expect_error "$w" 'bogus-flag'
report "unknown flag" "$w"

w=$(newproj unknown_command)
write_app "$w"
run_in "$w" 20 frobnicate
expect_error "$w"
report "unknown command" "$w"

w=$(newproj unknown_named_command)
write_app "$w"
run_in "$w" 20 run frobnicate
expect_error "$w" 'frobnicate' 'not found'
report "unknown named command (wippy run NAME)" "$w"

w=$(newproj lock_missing_src)
write_app "$w"
printf 'directories:\n    modules: .wippy\n    src: ./nosuchdir\n' >"$w/wippy.lock"
run_in "$w" 20 run -x app:test
expect_error "$w" 'nosuchdir'
report "lock file whose src dir is missing" "$w"

w=$(newproj lock_bad_yaml)
write_app "$w"
printf 'directories:\n  src: [unclosed\n' >"$w/wippy.lock"
run_in "$w" 20 run -x app:test
expect_error "$w" 'wippy\.lock'
report "lock file that is not valid YAML" "$w"

w=$(newproj config_missing)
write_app "$w"
run_in "$w" 20 run --config missing.yaml -x app:test
expect_error "$w" 'missing\.yaml'
report "--config missing.yaml" "$w"

w=$(newproj config_bad_yaml)
write_app "$w"
printf 'logger:\n  encoding: console\n bad: [\n' >"$w/bad.yaml"
run_in "$w" 20 run --config bad.yaml -x app:test
expect_error "$w" 'bad\.yaml'
report "--config with a YAML syntax error" "$w"

# ------------------------------------------------------------ informational

w=$TMPROOT/version
mkdir -p "$w"
run_in "$w" 20 --version
[ $rc -eq 0 ] || fail "exit code $rc"
grep -q . "$w/stdout" || fail "no version text on stdout"
report "wippy --version exits 0" "$w"

w=$TMPROOT/help
mkdir -p "$w"
run_in "$w" 20 --help
[ $rc -eq 0 ] || fail "exit code $rc"
grep -q 'run' "$w/stdout" || fail "help text does not mention 'run'"
report "wippy --help exits 0" "$w"

w=$TMPROOT/init
mkdir -p "$w"
run_in "$w" 20 init
[ $rc -eq 0 ] || fail "exit code $rc"
if [ -f "$w/wippy.lock" ]; then
    printf 'directories:\n    modules: .wippy\n    src: ./src\n' | cmp -s - "$w/wippy.lock" ||
        fail "wippy.lock content differs from the spec's default"
else
    fail "no wippy.lock written"
fi
[ -d "$w/src" ] && fail "wippy init created src/"
report "wippy init writes the default lock file" "$w"

w=$TMPROOT/no_lock
mkdir -p "$w"
run_in "$w" 20 run -x app:test
expect_error "$w" 'no terminal\.host found'
report "wippy run -x without wippy.lock: no terminal.host found" "$w"

w=$(newproj run_list_empty)
write_app "$w"
run_in "$w" 20 run list
[ $rc -eq 0 ] || fail "exit code $rc"
grep -q 'No commands found' "$w/stdout" "$w/stderr" || fail "no 'No commands found.'"
report "wippy run list without commands" "$w"

w=$(newproj print_logs)
write_app "$w" 'return { main = function()
    print("hello from print", 42)
    io.print("program output")
    return 0
end }'
run_in "$w" 20 run -x app:test
[ $rc -eq 0 ] || fail "exit code $rc (silent run)"
grep -q 'hello from print' "$w/stdout" "$w/stderr" && fail "print output visible under -x"
grep -qx 'program output' "$w/stdout" || fail "io.print output missing under -x"
run_in "$w" 20 run -c -x app:test
[ $rc -eq 0 ] || fail "exit code $rc (-c run)"
grep -q 'hello from print 42' "$w/stdout" || fail "-c: print record missing from stdout"
grep 'hello from print' "$w/stdout" | grep -q 'app:test:2' || fail "-c: print record lacks location app:test:2"
grep -q 'runtime ready' "$w/stdout" || fail "-c: no 'runtime ready' log line"
no_sanitizer "$w/stdout" "$w/stderr"
report "print is silent under -x and logged with -c" "$w"

w=$(newproj chunk_error)
write_app "$w" 'error("chunk boom")
return { main = function() return 0 end }'
run_in "$w" 20 run -x app:test
expect_error "$w" 'chunk boom' 'test\.lua:1([^0-9]|$)'
report "terminal entry whose chunk raises: Error: ..., exit 1" "$w"

w=$(newproj no_method)
write_app "$w" 'return 42'
run_in "$w" 20 run -x app:test
expect_error "$w" 'method "main" not found'
report "terminal entry without an entry function: Error: ..., exit 1" "$w"

# ------------------------------------------------------- named commands/args

write_command_app() { # WORK
    write_app "$1" 'local function main(...)
    local n = select("#", ...)
    local args = io.args()
    if #args ~= n then io.eprint("io.args() has " .. #args .. " values, main got " .. n) return 2 end
    for i = 1, n do
        local v = select(i, ...)
        if type(v) ~= "string" then io.eprint("argument " .. i .. " is a " .. type(v)) return 2 end
        if v ~= args[i] then io.eprint("argument " .. i .. " differs from io.args()") return 2 end
    end
    io.print("argc=" .. n .. " first=" .. tostring((...)) .. " last=" .. tostring((select(n > 0 and n or 1, ...))))
    return 0
end
return { main = main }'
    cat >>"$1/src/_index.yaml" <<'Y'
    meta:
      command:
        name: argtest
        short: prints its arguments
Y
}

w=$(newproj named_command)
write_command_app "$w"
run_in "$w" 20 run argtest alpha beta gamma
[ $rc -eq 0 ] || fail "exit code $rc"
grep -qx 'argc=3 first=alpha last=gamma' "$w/stdout" || fail "arguments did not arrive as strings"
no_sanitizer "$w/stdout" "$w/stderr"
report "wippy run NAME args: arguments arrive as strings" "$w"

w=$(newproj named_command_list)
write_command_app "$w"
run_in "$w" 20 run list
[ $rc -eq 0 ] || fail "exit code $rc"
grep -q 'argtest' "$w/stdout" || fail "run list does not show the command"
report "wippy run list shows a named command" "$w"

w=$(newproj named_command_many_args)
write_command_app "$w"
# shellcheck disable=SC2046
run_in "$w" 20 run argtest $(seq 1 100)
[ $rc -eq 0 ] || fail "exit code $rc"
grep -qx 'argc=100 first=1 last=100' "$w/stdout" || fail "100 arguments did not arrive"
no_sanitizer "$w/stdout" "$w/stderr"
report "wippy run NAME with 100 arguments" "$w"

w=$(newproj exec_many_args)
write_command_app "$w"
# -x may pass positional arguments or drop them (spec 02 §3.1); either way
# the values main gets and io.args() agree and nothing crashes
# shellcheck disable=SC2046
run_in "$w" 20 run -x app:test $(seq 1 100)
[ $rc -eq 0 ] || fail "exit code $rc"
grep -qxE 'argc=100 first=1 last=100|argc=0 first=nil last=nil' "$w/stdout" || fail "arguments garbled"
no_sanitizer "$w/stdout" "$w/stderr"
report "wippy run -x with 100 positional arguments" "$w"

# -------------------------------------------------------------------- pipes

w=$(newproj sigpipe)
write_app "$w" 'return { main = function()
    for i = 1, 200000 do io.print("line " .. i) end
    return 0
end }'
(cd "$w" && timeout -k 5 30 "$WIPPY" run -x app:test </dev/null 2>stderr | head -1 >stdout
    exit "${PIPESTATUS[0]}")
rc=$?
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    fail "timed out (exit $rc)"
elif [ $rc -ge 128 ]; then
    fail "killed by signal $((rc - 128)) (exit $rc)"
fi
grep -qx 'line 1' "$w/stdout" || fail "first line is not 'line 1'"
no_sanitizer "$w/stderr"
report "output piped into head -1: no death by SIGPIPE" "$w"

# io.write must report the failure once stdout is a broken pipe (spec 05 §7:
# write failure -> nil, err). head -1 exits after the first line, so by the
# end of the loop every further write fails with EPIPE.
w=$(newproj write_error)
write_app "$w" 'return { main = function()
    for i = 1, 200000 do io.print("line " .. i) end
    io.flush()
    for i = 1, 100 do
        local ok, err = io.write("more\n")
        if not ok then
            io.eprint("write error: " .. tostring(err))
            return 3
        end
    end
    io.eprint("io.write kept returning true on a broken pipe")
    return 0
end }'
(cd "$w" && timeout -k 5 30 "$WIPPY" run -x app:test </dev/null 2>stderr | head -1 >stdout
    exit "${PIPESTATUS[0]}")
rc=$?
[ $rc -eq 3 ] || fail "exit code $rc, expected 3 (io.write returned nil, err)"
no_sanitizer "$w/stderr"
report "io.write returns nil, err on a broken stdout pipe" "$w"

# ------------------------------------------------------------------ signals

# wait_for FILE REGEX SECONDS: wait until a line of FILE matches
wait_for() { wait_match "$1" "$2" 1 "$3"; }

# wait_exit PID SECONDS: wait for a background pid with a bound; sets rc
# (999 when it had to be killed)
wait_exit() {
    if wait_pid "$1" "$2"; then
        rc=$WAIT_RC
        return 0
    fi
    rc=999
    return 1
}

write_service_app() { # WORK EXTRA_LIFECYCLE
    cat >"$1/src/_index.yaml" <<Y
version: "1.0"
namespace: app

entries:
  - name: processes
    kind: process.host
    lifecycle:
      auto_start: true

  - name: svc
    kind: process.lua
    source: file://svc.lua
    method: main
    modules: [logger]

  - name: svc-service
    kind: process.service
    process: app:svc
    host: app:processes
    lifecycle:
      auto_start: true
$2
Y
}

w=$(newproj sigterm)
write_service_app "$w" ""
cat >"$w/src/svc.lua" <<'L'
local function main()
    local events = process.events()
    local ok, err = process.registry.register("signal_test_service")
    if not ok then error("register failed: " .. tostring(err)) end
    logger:info("service registered its name")
    while true do
        local ev = events:receive()
        if ev.kind == process.event.CANCEL then
            logger:info("service got CANCEL", { reason = ev.reason })
            return 0
        end
    end
end
return { main = main }
L
(cd "$w" && exec "$WIPPY" run -c </dev/null >out 2>&1) &
pid=$!
BGPIDS+=("$pid")
if wait_for "$w/out" 'runtime ready' 20; then
    grep -aq 'service registered its name' "$w/out" || fail "service did not log its registration"
    kill -TERM "$pid"
    if wait_exit "$pid" 15; then
        [ $rc -eq 0 ] || fail "exit code $rc after SIGTERM, expected 0"
        grep -aq 'service got CANCEL' "$w/out" || fail "service never saw its CANCEL event"
    else
        fail "still running 15s after SIGTERM"
    fi
else
    fail "no 'runtime ready' within 20s"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
fi
no_sanitizer "$w/out"
report "wippy run + SIGTERM: graceful shutdown, exit 0" "$w"

# a SIGINT (Ctrl+C again) while shutting down after SIGTERM forces exit 1
w=$(newproj second_signal)
write_service_app "$w" "      stop_timeout: 60s"
cat >"$w/src/svc.lua" <<'L'
-- ignores CANCEL: shutdown would wait for its 60s stop_timeout
local function main()
    logger:info("stubborn service up")
    channel.new():receive()
end
return { main = main }
L
(cd "$w" && exec "$WIPPY" run -c </dev/null >out 2>&1) &
pid=$!
BGPIDS+=("$pid")
if wait_for "$w/out" 'runtime ready' 20; then
    kill -TERM "$pid"
    wait_for "$w/out" 'shutting down' 10 || fail "no 'shutting down' log after the first SIGTERM"
    kill -INT "$pid" 2>/dev/null
    if wait_exit "$pid" 10; then
        [ $rc -eq 1 ] || fail "exit code $rc after the SIGINT, expected 1"
    else
        fail "still running 10s after the SIGINT"
    fi
else
    fail "no 'runtime ready' within 20s"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
fi
no_sanitizer "$w/out"
report "SIGINT during a SIGTERM shutdown: forced exit 1" "$w"

# Ctrl+C while the seed CLI waits in io.readline (stdin: a fifo kept open)
w=$TMPROOT/sigint_readline
mkdir -p "$w"
cp -R "$SEED/src" "$w/src"
chmod -R u+w "$w/src"
(cd "$w" && "$WIPPY" init -s >/dev/null 2>&1) || fail "wippy init -s failed"
mkfifo "$w/in"
exec {fifo_fd}<>"$w/in"     # keeps a writer open: the CLI never sees EOF
(cd "$w" && exec "${DEFSIG[@]}" "$WIPPY" run -x app:terminal/app:cli <in >stdout 2>stderr) &
pid=$!
BGPIDS+=("$pid")
if wait_for "$w/stdout" '> ' 20; then
    kill -INT "$pid"
    if wait_exit "$pid" 30; then
        [ $rc -eq 0 ] || fail "exit code $rc after SIGINT, expected 0"
        grep -aq 'Auf Wiedersehen!' "$w/stdout" || fail "no 'Auf Wiedersehen!' after SIGINT"
    else
        fail "still running 30s after SIGINT"
    fi
else
    fail "no prompt within 20s"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
fi
exec {fifo_fd}>&-
no_sanitizer "$w/stdout" "$w/stderr"
report "Ctrl+C during -x with a pending io.readline: goodbye and exit 0" "$w"

# Output does not wait for input: a task prints while the main task waits
# in io.readline (stdin: a fifo kept open), and the line is out before any
# input comes; the read then still gets its line.
w=$TMPROOT/print_during_read
mkdir -p "$w/src"
cat >"$w/src/_index.yaml" <<'YAML'
version: "1.0"
namespace: app
entries:
  - name: terminal
    kind: terminal.host
    lifecycle:
      auto_start: true
  - name: main
    kind: process.lua
    source: file://main.lua
    method: main
    modules: [io]
  - name: processes
    kind: process.host
    lifecycle:
      auto_start: true
  - name: child
    kind: process.lua
    source: file://child.lua
    method: main
YAML
# the task prints on a child's message, which the process takes from its
# mailbox only once the main task has yielded: after the read was queued
cat >"$w/src/main.lua" <<'LUA'
return { main = function()
    local inbox = process.inbox()
    coroutine.spawn(function()
        inbox:receive()
        io.print("from another task")
    end)
    io.write("prompt> ")
    process.spawn("app:child", "app:processes", process.pid())
    io.print("read " .. tostring(io.readline()))
    return 0
end }
LUA
cat >"$w/src/child.lua" <<'LUA'
return { main = function(parent) process.send(parent, "go") end }
LUA
(cd "$w" && "$WIPPY" init -s >/dev/null 2>&1) || fail "wippy init -s failed"
mkfifo "$w/in"
exec {fifo_fd}<>"$w/in"
(cd "$w" && exec "$WIPPY" run -x app:main <in >stdout 2>stderr) &
pid=$!
BGPIDS+=("$pid")
if wait_for "$w/stdout" 'from another task' 20; then
    echo "the line" >&"$fifo_fd"
    if wait_exit "$pid" 20; then
        [ $rc -eq 0 ] || fail "exit code $rc, expected 0"
        [ "$(cat "$w/stdout")" = "prompt> from another task
read the line" ] || fail "stdout: $(cat -v "$w/stdout")"
    else
        fail "still running 20s after its line"
    fi
else
    fail "a task's output waited for the pending read"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
fi
exec {fifo_fd}>&-
no_sanitizer "$w/stdout" "$w/stderr"
report "output of another task is not held behind a pending io.readline" "$w"

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
