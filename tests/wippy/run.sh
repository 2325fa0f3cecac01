#!/usr/bin/env bash
# Wippy's own test-runner pattern (issue 15 item 5) on our binary: the
# `test` command of tests/wippy/src finds the test functions through the
# registry, calls each with funcs.call and reports; our API suite runs this
# way, as a Wippy user's does. Also checks the runner itself: the words
# filter, and a failing test (returned false, raised, returned an error)
# making it print FAILED and exit 1.
#
#   tests/wippy/run.sh WIPPY_BINARY
set -u

. "$(dirname "${BASH_SOURCE[0]}")/../common.sh" "$@"

TMPROOT=$(mktemp -d "${TMPDIR:-/tmp}/wippy-runner.XXXXXX")
trap 'rm -rf "$TMPROOT"' EXIT
passed=0
failed=0
reasons=()
fail() { reasons+=("$*"); }

# run_case NAME EXPECTED_RC ARGS...: `wippy run test ARGS` in $APP; its
# output in $TMPROOT/NAME.out.
run_case() {
    local name=$1 want=$2
    shift 2
    (cd "$APP" && exec timeout -k 5 120 "$WIPPY" run test "$@" </dev/null \
        >"$TMPROOT/$name.out" 2>"$TMPROOT/$name.err")
    local rc=$?
    [ "$rc" -eq "$want" ] || fail "$name: exit code $rc, expected $want"
}
has() { grep -qxF -- "$2" "$TMPROOT/$1.out" || fail "$1: no line: $2"; }
# check NAME TITLE: the verdict of case NAME, with its output when it failed.
check() {
    verdict "$2" && return 0
    sed 's/^/    | /' "$TMPROOT/$1.out" "$TMPROOT/$1.err"
}

APP=$TMPROOT/app
mkdir -p "$APP"
cp -r "$HERE/src" "$APP/"
(cd "$APP" && "$WIPPY" init -s >/dev/null 2>&1) || fail "wippy init -s failed"

# The whole suite: every test function is found, called and passes.
ntests=$(grep -c '^      type: test$' "$HERE/src/tests/_index.yaml")
run_case all 0
has all "PASSED $ntests tests"
nok=$(grep -cE '^  app\.tests:[a-z_]+\.* ok [0-9]+ms( slow)?$' "$TMPROOT/all.out")
[ "$nok" -eq "$ntests" ] || fail "all: $nok ok lines, expected $ntests"
has all "process"
has all "modules"
check all "the API suite through Wippy's test-runner pattern"

# Words keep only the tests whose id contains one of them.
run_case words 0 json_ uuid
has words "PASSED 2 tests"
grep -q 'app.tests:own_pid' "$TMPROOT/words.out" && fail "words: a test outside the words ran"
check words "wippy run test WORDS keeps the tests whose id has a word"

# A test that returns false, raises or returns an error fails; the runner
# says FAILED with the counts and exits 1.
cp -r "$HERE/selfcheck" "$APP/src/"
run_case selfcheck 1 selfcheck
has selfcheck "FAILED 1 passed 3 failed"
grep -qE '^  app\.selfcheck:passes\.* ok' "$TMPROOT/selfcheck.out" || fail "selfcheck: passes did not pass"
grep -qE '^  app\.selfcheck:returns_false\.* FAIL [0-9]+ms: returned false$' "$TMPROOT/selfcheck.out" ||
    fail "selfcheck: returns_false not reported"
grep -qE '^  app\.selfcheck:raises\.* FAIL [0-9]+ms: .*raised on purpose' "$TMPROOT/selfcheck.out" ||
    fail "selfcheck: raises not reported"
grep -qE '^  app\.selfcheck:returns_error\.* FAIL [0-9]+ms: .*returned on purpose' "$TMPROOT/selfcheck.out" ||
    fail "selfcheck: returns_error not reported"
check selfcheck "a failing test: FAILED, the counts, exit code 1"

for f in "$TMPROOT"/*.out "$TMPROOT"/*.err; do
    if grep -aqE 'Sanitizer|runtime error:' "$f"; then echo "sanitizer report in $f:"; cat "$f"; failed=$((failed + 1)); fi
done
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
