#!/usr/bin/env bash
# Lua-level test suite.
#
#   tests/lua/run.sh WIPPY_BINARY [CASE...]
#
# Every directory tests/lua/<case>/ holding src/_index.yaml is one case: a
# small app with a process entry `app:test` on a terminal host. The case is
# copied to a temporary directory, `wippy init -s` writes the lock file and
# `timeout 60 wippy run -x app:test </dev/null` runs it.
#
# A case passes when
#   * the exit code is 0, or the number in the case's `expect_exit` file;
#   * no stdout line starts with "FAIL";
#   * stdout holds exactly as many lines starting with "PASS " as the
#     number in the case's `expect_checks` file (required, at least 1).
#     testing.lua prints one per subtest that passed; a case not using it
#     prints its own. Fewer means checks that never ran (a main that
#     returned early, a subtest skipped, a process that ended first); more
#     means a check ran twice or the count is stale. Both fail, so the
#     count stays the truth: a case that gains or loses a check updates it.
#     Only a case that must fail at boot (no Lua runs) states 0, and it
#     must then expect a non-zero exit and name the error in expect_stderr:
#     those are its checks;
#   * every non-empty line of the case's `expect_stderr` file occurs in
#     stderr (fixed-string match);
#   * no non-empty line of the case's `reject_output` file occurs in stdout
#     or stderr (fixed-string match);
#   * neither stdout nor stderr mentions "Sanitizer" or "runtime error:"
#     (ASan/UBSan/TSan reports).
# A case may hold a file `timeout` with its own limit in seconds (default 60,
# or $WIPPY_TEST_TIMEOUT).
#
# Optional per-case files (all absent by default, which gives the behaviour
# described above):
#   * `flags`: extra `wippy run` flags (whitespace-separated words, e.g.
#     `-c -v`), placed after `run` and before the entry;
#   * `command`: words replacing `-x app:test`, e.g. a named command and its
#     arguments (`mycmd alpha beta`), so the run is `wippy run FLAGS WORDS`;
#   * `stdin`: a file fed to the run's stdin instead of /dev/null;
#   * `env`: NAME=VALUE lines (empty lines and lines starting with '#'
#     skipped; VALUE may be empty) added to the environment of `wippy run`
#     (through env(1)), for apps that read the OS environment;
#   * `expect_stdout`: like `expect_stderr`, for stdout.
# A CASE holding a '/' names a case directory anywhere (tests/lua/harness/
# holds cases this script must fail: harness/check.sh runs them).
# Shared sources live in tests/lua/lib/: each one a case's src/_index.yaml
# names as `file://NAME` (the test library testing.lua, the preemption
# cases' common parts) is copied into the case's src/ directory before the
# run, so the entry can load it.
# Prints "ok - <case>" / "not ok - <case>" (with the captured output) and a
# final "N passed, N failed" line; exits 1 if any case failed.
set -u

WIPPY_USAGE='[CASE...]'
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh" "$@"
shift
CASE_TIMEOUT=${WIPPY_TEST_TIMEOUT:-60}

if [ ! -x "$WIPPY" ]; then
    echo "wippy binary not found or not executable: $WIPPY" >&2
    exit 2
fi

TMPROOT=$(mktemp -d "${TMPDIR:-/tmp}/wippy-lua.XXXXXX")
trap 'rm -rf "$TMPROOT"' EXIT
trap 'exit 130' INT TERM

if [ $# -gt 0 ]; then
    cases=("$@")
else
    cases=()
    for d in "$HERE"/*/; do
        [ -f "$d/src/_index.yaml" ] && cases+=("$(basename "$d")")
    done
fi

passed=0
failed=0

indent() { sed 's/^/    | /'; }

for name in "${cases[@]}"; do
    case $name in
        */*) src=$(cd "$name" 2>/dev/null && pwd) || src=$name ;;
        *) src="$HERE/$name" ;;
    esac
    if [ ! -f "$src/src/_index.yaml" ]; then
        echo "not ok - $name"
        echo "    no such case: $src/src/_index.yaml"
        failed=$((failed + 1))
        continue
    fi
    work="$TMPROOT/${src##*/}"
    mkdir -p "$work"
    cp -RL "$src/." "$work/" # -L: a case may link files it shares (registry_crontab)
    for lib in "$HERE"/lib/*; do
        base=${lib##*/}
        if grep -qF "file://$base" "$src/src/_index.yaml"; then
            cp "$lib" "$work/src/$base"
        fi
    done
    reasons=()

    (cd "$work" && "$WIPPY" init -s >init.out 2>&1)
    rc=$?
    if [ $rc -ne 0 ]; then
        reasons+=("wippy init -s exited $rc")
    fi

    limit=$CASE_TIMEOUT
    if [ -f "$src/timeout" ]; then
        limit=$(tr -d ' \t\r\n' <"$src/timeout")
    fi
    flags=()
    if [ -f "$src/flags" ]; then
        read -r -a flags < <(tr '\r\n' '  ' <"$src/flags")
    fi
    entry=(-x app:test)
    if [ -f "$src/command" ]; then
        read -r -a entry < <(tr '\r\n' '  ' <"$src/command")
    fi
    input=/dev/null
    if [ -f "$src/stdin" ]; then
        input="$src/stdin"
    fi
    envs=()
    if [ -f "$src/env" ]; then
        while IFS= read -r line || [ -n "$line" ]; do
            case $line in '' | '#'*) continue ;; esac
            envs+=("$line")
        done <"$src/env"
    fi
    start=$(date +%s)
    # (the subshell's own stderr only carries bash's "Killed" notices)
    (cd "$work" && env ${envs[@]+"${envs[@]}"} timeout -k 5 "$limit" "$WIPPY" run ${flags[@]+"${flags[@]}"} \
        "${entry[@]}" <"$input" >stdout 2>stderr) 2>/dev/null
    rc=$?
    elapsed=$(( $(date +%s) - start ))

    want_exit=0
    if [ -f "$src/expect_exit" ]; then
        want_exit=$(tr -d ' \t\r\n' <"$src/expect_exit")
    fi
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        reasons+=("timed out after ${limit}s (exit $rc)")
    elif [ "$rc" != "$want_exit" ]; then
        reasons+=("exit code $rc, expected $want_exit")
    fi
    if grep -q '^FAIL' "$work/stdout"; then
        reasons+=("FAIL lines in stdout")
    fi
    ran=$(grep -c '^PASS ' "$work/stdout")
    want_checks=
    if [ -f "$src/expect_checks" ]; then
        want_checks=$(tr -d ' \t\r\n' <"$src/expect_checks")
    fi
    boot_error=0
    if [ "$want_checks" = 0 ] && [ -f "$src/expect_exit" ] &&
        [ "$(tr -d ' \t\r\n' <"$src/expect_exit")" != 0 ] &&
        grep -q . "$src/expect_stderr" 2>/dev/null; then
        boot_error=1
    fi
    if [ "$boot_error" = 1 ]; then
        [ "$ran" -eq 0 ] || reasons+=("$ran checks passed in a case that must fail at boot")
    elif ! [[ $want_checks =~ ^[1-9][0-9]*$ ]]; then
        reasons+=("expect_checks must hold the number of PASS lines the case prints (this run: $ran)")
    elif [ "$ran" -ne "$want_checks" ]; then
        reasons+=("$ran checks passed, expected $want_checks (expect_checks)")
    fi
    if [ -f "$src/expect_stderr" ]; then
        while IFS= read -r want || [ -n "$want" ]; do
            [ -z "$want" ] && continue
            if ! grep -qF -- "$want" "$work/stderr"; then
                reasons+=("stderr lacks: $want")
            fi
        done <"$src/expect_stderr"
    fi
    if [ -f "$src/expect_stdout" ]; then
        while IFS= read -r want || [ -n "$want" ]; do
            [ -z "$want" ] && continue
            if ! grep -qF -- "$want" "$work/stdout"; then
                reasons+=("stdout lacks: $want")
            fi
        done <"$src/expect_stdout"
    fi
    if [ -f "$src/reject_output" ]; then
        while IFS= read -r bad || [ -n "$bad" ]; do
            [ -z "$bad" ] && continue
            if grep -qF -- "$bad" "$work/stdout" "$work/stderr"; then
                reasons+=("output contains: $bad")
            fi
        done <"$src/reject_output"
    fi
    if grep -qE 'Sanitizer|runtime error:' "$work/stdout" "$work/stderr"; then
        reasons+=("sanitizer report")
    fi

    if [ ${#reasons[@]} -eq 0 ]; then
        echo "ok - $name (${elapsed}s)"
        passed=$((passed + 1))
    else
        echo "not ok - $name (${elapsed}s)"
        for r in "${reasons[@]}"; do echo "    # $r"; done
        echo "    --- init:"; indent <"$work/init.out"
        echo "    --- stdout:"; indent <"$work/stdout"
        echo "    --- stderr:"; indent <"$work/stderr"
        failed=$((failed + 1))
    fi
    rm -rf "$work"
done

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
