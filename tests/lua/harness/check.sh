#!/usr/bin/env bash
# The Lua test runner's own test: run.sh must fail each case in this
# directory, for the reason given below, and pass a good case.
#
#   tests/lua/harness/check.sh WIPPY_BINARY
#
# never_ran  exit 0 and no FAIL line, but its one check never ran
# ran_twice  its one stated check passed twice
# unstated   no expect_checks file
#
# Prints "ok - ..." / "not ok - ..." and "N passed, N failed"; exits 1 when
# run.sh judged a case wrongly.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../../common.sh" "$@"
RUN=$HERE/../run.sh

passed=0
failed=0
# judge CASE_DIR WANT_RC WANT_TEXT: run.sh on the case must exit WANT_RC and
# print WANT_TEXT (fixed string).
judge() {
    local dir=$1 want_rc=$2 want=$3 out rc
    out=$(bash "$RUN" "$WIPPY" "$dir" 2>&1)
    rc=$?
    if [ "$rc" -eq "$want_rc" ] && grep -qF -- "$want" <<<"$out"; then
        echo "ok - ${dir##*/}: $want"
        passed=$((passed + 1))
    else
        echo "not ok - ${dir##*/}: expected exit $want_rc and \"$want\", got exit $rc:"
        sed 's/^/    | /' <<<"$out"
        failed=$((failed + 1))
    fi
}

judge "$HERE/never_ran" 1 "0 checks passed, expected 1 (expect_checks)"
judge "$HERE/ran_twice" 1 "2 checks passed, expected 1 (expect_checks)"
judge "$HERE/unstated" 1 "expect_checks must hold the number of PASS lines the case prints (this run: 1)"
judge "$REPO/tests/lua/exit_true" 0 "1 passed, 0 failed"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
