#!/usr/bin/env bash
# run.sh CLANG_BINARY TARGET SECONDS [LIBFUZZER_FLAG...]
#
# Builds the libFuzzer targets (tests/fuzz/Makefile: ASan + UBSan, into
# $FUZZ_BUILD_DIR, default build/fuzz; incremental, and serialised with a
# lock so that parallel runs share one build) and fuzzes tests/fuzz/fuzz_TARGET
# for SECONDS (0: no time limit, e.g. with -runs=N among the flags), starting
# from a copy of the seed corpus tests/fuzz/corpus_TARGET with the token
# dictionary tests/fuzz/TARGET.dict when there is one. The fuzzer aborts on a
# crash, a sanitizer report, a timeout, a leak or a broken invariant (each
# target's header says which); the input that did it is printed in base64
# (and kept in $FUZZ_ARTIFACT_DIR when that is set). New inputs the run found
# are kept in $FUZZ_CORPUS_DIR when that is set (the seed corpus in the
# repository is never written).
#
# Ends with "1 passed, 0 failed" or "0 passed, 1 failed"; exit status 0/1.
# Debian: clang-14 with libclang-rt-14-dev (libFuzzer), liblua5.4-dev,
# libyaml-dev, libck-dev.
set -uo pipefail

if [ $# -lt 3 ]; then
  echo "usage: $0 CLANG_BINARY TARGET SECONDS [LIBFUZZER_FLAG...]" >&2
  exit 2
fi
clang=$1
target=$2
secs=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${FUZZ_BUILD_DIR:-$root/build/fuzz}

result() { # result PASSED
  if [ "$1" -eq 1 ]; then
    echo "1 passed, 0 failed"
    exit 0
  fi
  echo "0 passed, 1 failed"
  exit 1
}

if [ ! -f "$here/fuzz_$target.c" ]; then
  echo "no such target: $here/fuzz_$target.c" >&2
  result 0
fi

# Inputs larger than this are not generated (the seeds are all smaller).
case $target in
  duration|pid) max_len=256 ;;
  *) max_len=4096 ;;
esac

mkdir -p "$out" || result 0
echo "building fuzz_$target with $clang"
if ! flock "$out/.lock" make -s -f "$here/Makefile" CLANG="$clang" OUT="$out" \
    -j"$(nproc)" "$out/fuzz_$target" >"$out/build_$target.log" 2>&1; then
  cat "$out/build_$target.log" >&2
  echo "build failed (libFuzzer needs libclang-rt-<version>-dev on Debian)" >&2
  result 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fuzz_$target.XXXXXX") || result 0
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/corpus" "$tmp/artifacts"
cp "$here/corpus_$target"/* "$tmp/corpus/"
corpus=("$tmp/corpus")
if [ -n "${FUZZ_CORPUS_DIR:-}" ]; then
  mkdir -p "$FUZZ_CORPUS_DIR" && corpus=("$FUZZ_CORPUS_DIR" "$tmp/corpus")
fi
dict=()
[ -f "$here/$target.dict" ] && dict=(-dict="$here/$target.dict")
limit=()
[ "$secs" -gt 0 ] && limit=(-max_total_time="$secs")

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
if [ "$secs" -gt 0 ]; then
  echo "fuzzing fuzz_$target for $secs s $*"
else
  echo "fuzzing fuzz_$target $*"
fi
(cd "$tmp" && "$out/fuzz_$target" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 \
   -max_len="$max_len" "${dict[@]}" -artifact_prefix="$tmp/artifacts/" \
   -print_final_stats=1 "$@" "${corpus[@]}") >"$tmp/fuzz.log" 2>&1
rc=$?
grep -E "^(#[0-9]+.*DONE|Done [0-9]+ runs|stat::number_of_executed_units|stat::new_units_added)" \
  "$tmp/fuzz.log"
if [ $rc -ne 0 ] || grep -qE "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|invariant broken" "$tmp/fuzz.log"; then
  tail -60 "$tmp/fuzz.log" >&2
  for a in "$tmp"/artifacts/*; do
    [ -f "$a" ] || continue
    echo "--- reproducer $(basename "$a") (base64):" >&2
    base64 "$a" >&2
    if [ -n "${FUZZ_ARTIFACT_DIR:-}" ]; then
      mkdir -p "$FUZZ_ARTIFACT_DIR" && cp "$a" "$FUZZ_ARTIFACT_DIR/"
    fi
  done
  result 0
fi
result 1
