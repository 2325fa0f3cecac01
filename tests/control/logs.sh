#!/usr/bin/env bash
# JSON logs: --log-format json and logger.encoding: json (ctest logs_json).
#
#   tests/control/logs.sh WIPPY_BINARY
#
# Runs app:logme (three records with fields: numbers, a string with a
# newline, an infinity, a list; print; a logger's own field) and checks
# that every line is one flat JSON object with time (RFC 3339, UTC),
# level, message and the fields, pid and location for the process's
# lines; the same through .wippy.yaml; a bad encoding is a boot error;
# the console encoding is unchanged. (Colours: top_tmux.sh.)
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh" "$@"
command -v jq >/dev/null || { echo "jq is needed (tools/deps.sh --test)" >&2; exit 2; }
. "$HERE/lib.sh"
setup_tmp
trap cleanup EXIT
trap 'exit 130' INT TERM

new_app logs
O=$W/json.out
(cd "$W" && "$WIPPY" run -c --log-format json -x app:terminal/app:logme >"$O" 2>&1) ||
    fail "the run failed"
[ "$(wc -l <"$O")" -ge 5 ] || fail "only $(wc -l <"$O") lines"
jq -e -s 'length > 0' "$O" >/dev/null 2>&1 || fail "not JSON lines: $(head -3 "$O")"
while IFS= read -r line; do
    jq -e 'type == "object" and (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"))
           and (.level | IN("debug", "info", "warn", "error")) and (.message | type) == "string"
           and all(.[]; type != "object")' <<<"$line" >/dev/null 2>&1 ||
        fail "not a flat record with time, level, message: $line"
done <"$O"
H=$(grep -a 'hello' "$O")
jq -e '.level == "info" and .message == "hello \"json\"" and .n == 1 and .f == 1.5 and
       .s == "x\ny" and .inf == "inf" and .t == [1, 2] and .location == "app:logme:3" and
       (.pid | test("^\\{app:terminal\\|0x[0-9a-f]+\\}$"))' <<<"$H" >/dev/null 2>&1 ||
    fail "the logger line: $H"
P=$(grep -a 'printed' "$O")
jq -e '.message == "printed 42" and .level == "info" and (.pid | startswith("{app:terminal|"))
       and .location == "app:logme:4"' <<<"$P" >/dev/null 2>&1 || fail "the print line: $P"
C=$(grep -a 'careful' "$O")
jq -e '.level == "warn" and .component == "c1"' <<<"$C" >/dev/null 2>&1 || fail "the warn line: $C"
jq -e -s 'any(.[]; .message == "runtime ready" and has("pid") == false)' "$O" >/dev/null 2>&1 ||
    fail "the runtime's own lines (no pid)"
check "--log-format json: one flat object per line"

printf 'logger:\n  encoding: json\n' >"$W/.wippy.yaml"
(cd "$W" && "$WIPPY" run -c -x app:terminal/app:logme >"$O" 2>&1) || fail "the run failed"
jq -e -s 'any(.[]; .message == "careful" and .component == "c1")' "$O" >/dev/null 2>&1 ||
    fail "logger.encoding: json did not give JSON: $(head -2 "$O")"
printf 'logger:\n  encoding: yaml\n' >"$W/.wippy.yaml"
out=$(cd "$W" && "$WIPPY" run -c -x app:terminal/app:logme 2>&1) && fail "encoding yaml was accepted"
[[ $out == "Error: logger.encoding: the log encoding is console or json, not \"yaml\""* ]] ||
    fail "encoding yaml says: $out"
out=$(cd "$W" && "$WIPPY" run -c --log-format xml -x app:terminal/app:logme 2>&1) &&
    fail "--log-format xml was accepted"
[[ $out == "Error: --log-format: the log encoding is console or json, not \"xml\""* ]] ||
    fail "--log-format xml says: $out"
rm -f "$W/.wippy.yaml"
check "logger.encoding in .wippy.yaml; bad encodings are boot errors"

(cd "$W" && "$WIPPY" run -c -x app:terminal/app:logme >"$O" 2>&1) || fail "the run failed"
grep -qaP '^\d{4}-\d\d-\d\dT[\d:.]+Z\tWARN\tcareful\t\{"component": "c1", ' "$O" ||
    fail "the console line changed: $(grep -a careful "$O")"
grep -qa $'\e' "$O" && fail "colours in a file"
check "console encoding (the default) as before, no colours in a file"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
