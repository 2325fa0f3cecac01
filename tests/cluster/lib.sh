# tests/cluster/lib.sh: what the cluster test scripts (run.sh, names.sh)
# share. Sourced with the script's arguments:
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
# Starts `nats-server -js` on a free loopback port with a temporary store
# (URL, PORT; always stopped at exit) and defines the node helpers below;
# start_tls_nats starts a second server, that requires TLS (TLS_URL).
# Each node is a separate `wippy run -v -x app:node` process (or $ENTRY) in
# its own app directory (a copy of tests/cluster/app) whose stdin is a FIFO
# the script holds open. Everything waits on output lines or exits;
# timeouts are only failure bounds.
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh" "$@"

if [ ! -x "$WIPPY" ]; then
    echo "wippy binary not found or not executable: $WIPPY" >&2
    exit 2
fi
if ! command -v nats-server >/dev/null 2>&1; then
    echo "nats-server is not installed (tools/deps.sh --test installs it)" >&2
    exit 1
fi

TMPROOT=$(mktemp -d "${TMPDIR:-/tmp}/wippy-cluster.XXXXXX")
NATS_PID=
TLS_NATS_PID=
declare -A NODE_PID NODE_FD NODE_DIR
cleanup() {
    local k
    for k in "${!NODE_PID[@]}"; do kill -KILL "${NODE_PID[$k]}" 2>/dev/null; done
    for k in "$NATS_PID" "$TLS_NATS_PID"; do
        [ -n "$k" ] || continue
        kill -TERM "$k" 2>/dev/null
        wait "$k" 2>/dev/null
    done
    if [ -n "${WIPPY_TEST_KEEP:-}" ]; then echo "kept $TMPROOT" >&2; else rm -rf "$TMPROOT"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
reasons=()
shown=()
fail() { reasons+=("$*"); }
indent() { sed 's/^/    | /'; }

# report NAME: ok/not ok from the reasons collected, with the output of the
# nodes the case used (in $shown) on failure.
report() {
    local name=$1 d f
    for d in "${shown[@]}"; do
        if grep -aqE 'Sanitizer|runtime error:' "$d/out" "$d/err" 2>/dev/null; then
            fail "sanitizer report in $d"
        fi
        # nats_conn.c's standby found the socket unwatched: a bug of ours
        if grep -aqF 'nobody watched the NATS socket' "$d/err" 2>/dev/null; then
            fail "the NATS socket went unwatched in $d"
        fi
    done
    if ! verdict "$name"; then
        for d in "${shown[@]}"; do
            for f in out err; do
                [ -s "$d/$f" ] || continue
                # a sanitizer report is shown from its first line: the
                # stacks are what names the bug, the shadow map at its
                # end does not
                local at
                at=$(grep -anE 'ERROR: [A-Za-z]+Sanitizer|WARNING: ThreadSanitizer|runtime error:' \
                    "$d/$f" | head -1 | cut -d: -f1)
                if [ -n "$at" ]; then
                    echo "    --- $(basename "$d")/$f (from line $at, 80 lines):"
                    tail -n +"$at" "$d/$f" | head -80 | cat -v | indent
                else
                    echo "    --- $(basename "$d")/$f (last 30 lines):"
                    tail -30 "$d/$f" | cat -v | indent
                fi
            done
        done
    fi
    shown=()
}

# ---- the NATS server ----

# start_nats: starts the server (NATS_PID), on a free port the first time
# (PORT, URL), on the same port and store again after a stop (a restart).
start_nats() {
    : >"$TMPROOT/nats.log"
    nats-server -js -a 127.0.0.1 -p "${PORT:--1}" -sd "$TMPROOT/store" \
        >"$TMPROOT/nats.log" 2>&1 &
    NATS_PID=$!
    nats_ready "$TMPROOT/nats.log" "$NATS_PID"
    PORT=$READY_PORT
    URL=nats://127.0.0.1:$PORT
}

# nats_ready LOG PID: waits for the server's "Server is ready" in LOG (or
# ends the script, showing LOG); READY_PORT = the port it listens on.
nats_ready() {
    if ! wait_match "$1" 'Server is ready' 1 30 "$2"; then
        echo "nats-server did not start:" >&2
        cat "$1" >&2
        exit 1
    fi
    READY_PORT=$(sed -n 's/.*Listening for client connections on 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
        "$1" | head -1)
}
PORT=
start_nats

# stop_nats KEY...: stops the server; each node KEY logs that it lost it.
stop_nats() {
    local k
    kill -TERM "$NATS_PID"
    wait "$NATS_PID" 2>/dev/null
    NATS_PID=
    for k in "$@"; do
        wait_match "$TMPROOT/$k/err" 'lost its connection to NATS' 1 10 "${NODE_PID[$k]}" ||
            fail "$k did not notice NATS going away"
    done
}

# restart_nats KEY...: starts it again (same port and store); each node KEY
# logs that it reconnected.
restart_nats() {
    local k
    start_nats
    for k in "$@"; do
        wait_match "$TMPROOT/$k/err" 'reconnected to NATS' 1 30 "${NODE_PID[$k]}" ||
            fail "$k did not reconnect"
    done
}

# ---- a second NATS server, that requires TLS ----

# tls_files: in $TMPROOT/tls, a throwaway CA (ca.pem) and, signed by it, a
# certificate and key for the server (server.pem, server-key.pem) and for
# the nodes (node.pem, node-key.pem), both for IP 127.0.0.1: the client
# checks the server's against the address it dials. EC keys: made at once.
tls_files() {
    local d=$TMPROOT/tls n ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    mkdir -p "$d"
    openssl req -x509 "${ec[@]}" -days 1 -subj /CN=wippy-test-ca \
        -keyout "$d/ca-key.pem" -out "$d/ca.pem" 2>>"$d/openssl.log" || return 1
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >"$d/ext"
    for n in server node; do
        openssl req "${ec[@]}" -subj "/CN=$n" -keyout "$d/$n-key.pem" -out "$d/$n.csr" \
            2>>"$d/openssl.log" &&
            openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.pem" -CAkey "$d/ca-key.pem" -days 1 \
                -extfile "$d/ext" -out "$d/$n.pem" 2>>"$d/openssl.log" || return 1
    done
}

# start_tls_nats: makes the tls_files and starts nats-server -js on a free
# loopback port with its own store (TLS_NATS_PID, TLS_URL), requiring TLS
# and a client certificate signed by the CA (--tlsverify).
start_tls_nats() {
    if ! tls_files; then
        echo "openssl could not make the test certificates (tools/deps.sh --test installs it):" >&2
        cat "$TMPROOT/tls/openssl.log" >&2
        exit 1
    fi
    nats-server -js -a 127.0.0.1 -p -1 -sd "$TMPROOT/tls-store" --tlsverify \
        --tlscert "$TMPROOT/tls/server.pem" --tlskey "$TMPROOT/tls/server-key.pem" \
        --tlscacert "$TMPROOT/tls/ca.pem" >"$TMPROOT/tls-nats.log" 2>&1 &
    TLS_NATS_PID=$!
    nats_ready "$TMPROOT/tls-nats.log" "$TLS_NATS_PID"
    TLS_URL=tls://127.0.0.1:$READY_PORT
}

# stop_tls_nats: stops it (cleanup would too, at exit).
stop_tls_nats() {
    kill -TERM "$TLS_NATS_PID"
    wait "$TLS_NATS_PID" 2>/dev/null
    TLS_NATS_PID=
}

# ---- nodes ----

# app_dir DIR [YAML]: a copy of the test app in DIR, with .wippy.yaml = YAML.
app_dir() {
    local dir=$1
    rm -rf "$dir"
    mkdir -p "$dir"
    cp -r "$HERE/app/src" "$dir/"
    (cd "$dir" && "$WIPPY" init -s >/dev/null 2>&1) || fail "wippy init -s failed in $dir"
    [ $# -ge 2 ] && printf '%s\n' "$2" >"$dir/.wippy.yaml"
    shown+=("$dir")
}

# start_node KEY [RUN FLAGS...] [-- ARGS...]: starts a node in app directory
# $TMPROOT/KEY (made by app_dir unless it exists), stdin a FIFO held here,
# running app:node, or $ENTRY when set (none: no -x, the services only).
start_node() {
    local key=$1 dir=$TMPROOT/$1 fd k flags=()
    shift
    [ -d "$dir" ] || app_dir "$dir"
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        flags+=("$1")
        shift
    done
    [ "${1:-}" = -- ] && shift
    rm -f "$dir/in" "$dir/out" "$dir/err"
    mkfifo "$dir/in"
    exec {fd}<>"$dir/in"
    NODE_FD[$key]=$fd
    NODE_DIR[$key]=$dir
    (
        # the node holds no FIFO open for writing: only this script does
        for k in "${NODE_FD[@]}"; do exec {k}>&-; done
        x=(-x "${ENTRY:-app:node}")
        [ "${ENTRY:-}" = none ] && x=() # services only
        cd "$dir" && exec "$WIPPY" run -v "${flags[@]}" "${x[@]}" "$@" \
            <"$dir/in" >"$dir/out" 2>"$dir/err"
    ) &
    NODE_PID[$key]=$!
}

# wait_ready KEY SECONDS: the node printed "ready".
wait_ready() {
    wait_match "${NODE_DIR[$1]}/out" '^ready$' 1 "$2" "${NODE_PID[$1]}"
}

# stop_node KEY: ends the node's read (a line on its stdin) and waits for
# its exit; WAIT_RC is its exit code.
stop_node() {
    echo >&"${NODE_FD[$1]}"
    wait_pid "${NODE_PID[$1]}" 30 || fail "node $1 did not stop"
    forget_node "$1"
}

forget_node() {
    local fd=${NODE_FD[$1]}
    exec {fd}>&-
    unset "NODE_PID[$1]" "NODE_FD[$1]"
}

# pid_of KEY WHAT: the pid the node printed on its line "WHAT {pid}".
pid_of() { sed -n "s/^$2 \\({.*}\\)\$/\\1/p" "${NODE_DIR[$1]}/out" | head -1; }
# counter PID: its unique part as a number.
counter() {
    local hex=${1##*|0x}
    echo $((16#${hex%\}}))
}

# boot_fails KEY SECONDS RUN-FLAGS...: a node run that must fail at boot;
# sets rc and leaves stdout/stderr in $TMPROOT/KEY.
boot_fails() {
    local key=$1 secs=$2 dir=$TMPROOT/$1
    shift 2
    [ -d "$dir" ] || app_dir "$dir"
    (cd "$dir" && exec timeout -k 5 "$secs" "$WIPPY" run "$@" -x app:node \
        </dev/null >"$dir/out" 2>"$dir/err")
    rc=$?
    [ "$rc" -eq 1 ] || fail "$key: exit code $rc, expected 1"
    grep -q '^Error: ' "$dir/err" || fail "$key: no 'Error: ' line on stderr"
}

expect_err() { # KEY TEXT: the node's stderr holds TEXT
    grep -qF -- "$2" "$TMPROOT/$1/err" || fail "$1: stderr lacks: $2"
}

# short timings for the cases that wait for a departure; long enough that a
# node on a loaded 2-core machine still renews in time
FAST_DOWN_MS=1500
FAST=(--set cluster.heartbeat=200ms --set cluster.down_after=${FAST_DOWN_MS}ms)

# ---- nodes driven line by line (names.sh, pg.sh) ----
# Such a node runs a process that reads one command per stdin line and
# prints "done <line>" after each.

# re TEXT: TEXT as an extended regular expression matching itself.
re() { printf '%s' "$1" | sed 's/[][\.*^$(){}?+|/]/\\&/g'; }
# send KEY LINE: writes LINE to the node's stdin.
send() { printf '%s\n' "$2" >&"${NODE_FD[$1]}"; }
# done_wait KEY LINE: waits for the node's "done LINE" (one more than it
# printed before the matching send).
declare -A SENT
done_wait() {
    local k="$1 $2"
    SENT[$k]=$((${SENT[$k]:-0} + 1))
    wait_match "${NODE_DIR[$1]}/out" "^done $(re "$2")\$" "${SENT[$k]}" 30 "${NODE_PID[$1]}" ||
        fail "$1: no 'done $2'"
}
# run KEY LINE: send and wait.
run() {
    send "$1" "$2"
    done_wait "$1" "$2"
}
# has KEY LINE: the node printed LINE whole.
has() { grep -qxF -- "$2" "${NODE_DIR[$1]}/out" || fail "$1: no line: $2"; }
# quit_nodes KEY...: a "quit" line ends each node; each exits 0.
quit_nodes() {
    local k
    for k in "$@"; do
        send "$k" quit
        wait_pid "${NODE_PID[$k]}" 30 || fail "$k did not stop"
        [ "$WAIT_RC" -eq 0 ] || fail "$k exited $WAIT_RC"
        forget_node "$k"
    done
}
