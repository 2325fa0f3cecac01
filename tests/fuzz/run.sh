#!/usr/bin/env bash
# run.sh CLANG_BINARY SECONDS
#
# Builds the libFuzzer target for vm/typestrip.c (tests/fuzz/fuzz_typestrip.c)
# with ASan + UBSan into a temporary directory, copies the seed corpus
# (tests/fuzz/corpus_typestrip) there, writes a token dictionary, and fuzzes
# for SECONDS. The fuzzer aborts on a crash, a sanitizer report, a timeout or
# a broken invariant (see fuzz_typestrip.c); the input that did it is printed
# (and kept in $FUZZ_ARTIFACT_DIR when that is set).
#
# Ends with "1 passed, 0 failed" or "0 passed, 1 failed"; exit status 0/1.
# Debian: clang-14 with libclang-rt-14-dev (libFuzzer), liblua5.4-dev.
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 CLANG_BINARY SECONDS" >&2
  exit 2
fi
clang=$1
secs=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fuzz_typestrip.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

result() { # result PASSED
  if [ "$1" -eq 1 ]; then
    echo "1 passed, 0 failed"
    exit 0
  fi
  echo "0 passed, 1 failed"
  exit 1
}

lua_cflags=$(pkg-config --cflags lua5.4 2>/dev/null || echo "-I/usr/include/lua5.4")
lua_libs=$(pkg-config --libs lua5.4 2>/dev/null || echo "-llua5.4")

echo "building fuzz_typestrip with $clang"
# shellcheck disable=SC2086
if ! "$clang" -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I"$root/sched" -I"$root/vm" $lua_cflags \
    "$root/vm/typestrip.c" "$root/sched/alloc.c" "$here/fuzz_typestrip.c" \
    $lua_libs -lm -o "$tmp/fuzz_typestrip" 2>"$tmp/build.log"; then
  cat "$tmp/build.log" >&2
  echo "build failed (libFuzzer needs libclang-rt-<version>-dev on Debian)" >&2
  result 0
fi

mkdir -p "$tmp/corpus" "$tmp/artifacts"
cp "$here"/corpus_typestrip/* "$tmp/corpus/"

# Tokens that reach the interesting states quickly (libFuzzer -dict format).
cat >"$tmp/dict" <<'EOF'
"type "
"export type "
"local "
"function "
"for "
" in "
" do "
" end"
"return "
"goto "
"::"
":"
"->"
"..."
"<const>"
"<close>"
"typeof("
"{["
"]:"
"?"
"[]"
"|"
"&"
"<T>"
"--[["
"]]"
"[=["
"]=]"
"\\z"
"\\\x0a"
"\x0d\x0a"
"'"
"\""
"1e-3"
"0x1p4"
"nil"
"true"
EOF

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
echo "fuzzing for $secs s"
(cd "$tmp" && ./fuzz_typestrip -max_total_time="$secs" -timeout=10 \
   -rss_limit_mb=2048 -max_len=4096 -dict=dict \
   -artifact_prefix="$tmp/artifacts/" -print_final_stats=1 corpus) \
  >"$tmp/fuzz.log" 2>&1
rc=$?
grep -E "^(#[0-9]+.*DONE|Done [0-9]+ runs|stat::number_of_executed_units|stat::new_units_added)" \
  "$tmp/fuzz.log"
if [ $rc -ne 0 ] || grep -qE "ERROR: (AddressSanitizer|libFuzzer)|runtime error:|invariant broken" "$tmp/fuzz.log"; then
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
