#!/usr/bin/env bash
# The whole test matrix, as CI runs it (.ci/run calls this):
#   1. release build (jemalloc): every test (unit, stress, Lua apps,
#      end-to-end, the cluster against a real nats-server)
#   2. ASan + UBSan build (libc malloc): every test again
#   3. TSan build: the scheduler and mailbox tests, the Lua apps and the
#      cluster tests (nodes with their NATS threads), the control
#      endpoint under load and the metrics endpoint (label "tsan")
# Ends with one "N passed, N failed" line summing the three runs.
set -uo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh --test || exit 1
jobs=$(nproc)
total_pass=0
total_fail=0
status=0

# run_phase NAME BUILD_DIR CMAKE_ARGS CTEST_ARGS
run_phase() {
  local name=$1 dir=$2 cargs=$3 targs=$4
  echo "=== $name ==="
  if ! cmake -S . -B "$dir" $cargs >"$dir.cmake.log" 2>&1; then
    cat "$dir.cmake.log"; status=1; total_fail=$((total_fail + 1)); return
  fi
  if ! cmake --build "$dir" -j"$jobs" >"$dir.build.log" 2>&1; then
    tail -50 "$dir.build.log"; status=1; total_fail=$((total_fail + 1)); return
  fi
  local log="$dir.ctest.log"
  # shellcheck disable=SC2086
  (cd "$dir" && ctest --output-on-failure --timeout 600 $targs) </dev/null 2>&1 | tee "$log"
  local line pass fail
  line=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$log" | tail -1)
  if [ -z "$line" ]; then
    status=1; total_fail=$((total_fail + 1)); return
  fi
  fail=$(echo "$line" | sed -E 's/.*passed, ([0-9]+) tests failed out of ([0-9]+).*/\1/')
  local all
  all=$(echo "$line" | sed -E 's/.*failed out of ([0-9]+).*/\1/')
  pass=$((all - fail))
  total_pass=$((total_pass + pass))
  total_fail=$((total_fail + fail))
  [ "$fail" -ne 0 ] && status=1
  # a sanitizer report anywhere is a failure, whatever the exit codes said
  if grep -qE "(Address|Thread|Leak|UndefinedBehavior)Sanitizer|runtime error:" "$log"; then
    echo "sanitizer report in $name" >&2
    status=1; total_fail=$((total_fail + 1))
  fi
}

mkdir -p build
run_phase "release" build/ci-release "-DCMAKE_BUILD_TYPE=RelWithDebInfo" ""
run_phase "asan+ubsan" build/ci-asan "-DCMAKE_BUILD_TYPE=Debug -DWIPPY_SANITIZE=address,undefined -DWIPPY_BUILD_BENCH=OFF" ""
run_phase "tsan" build/ci-tsan "-DCMAKE_BUILD_TYPE=Debug -DWIPPY_SANITIZE=thread -DWIPPY_BUILD_BENCH=OFF" "-L tsan"

echo "${total_pass} passed, ${total_fail} failed"
exit $status
