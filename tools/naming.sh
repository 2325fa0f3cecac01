#!/usr/bin/env bash
# tools/naming.sh TABLE LIBRARY_OR_OBJECT...
#
# Checks the naming rule (README "Naming") on built code: every symbol a
# library or object exports starts with a prefix of TABLE (tools/naming.txt)
# and is defined in one of the files TABLE lists for that prefix (the
# longest matching prefix counts). `main` is allowed in main.c; names that
# start with "__" are the compiler's. Run by the ctest `naming` on the
# static libraries.
#
# Prints one line per broken rule and "naming: N symbols, every one where
# the table says" or "naming: N problems"; exits 0 or 1.
set -uo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 TABLE LIBRARY_OR_OBJECT..." >&2
  exit 2
fi
table=$1
shift

# nm -A: "archive:member.o:ADDR T name" or "object.o:ADDR T name"
nm -A --defined-only -g "$@" 2>/dev/null |
  awk -v table="$table" '
    BEGIN {
      while ((getline line < table) > 0) {
        sub(/#.*/, "", line)
        n = split(line, f, /[ \t]+/)
        if (n < 2 || f[1] == "") continue
        np++
        pre[np] = f[1]
        files[np] = " "
        for (i = 2; i <= n; i++) if (f[i] != "") files[np] = files[np] f[i] " "
      }
    }
    {
      if (NF < 3) next
      k = split($1, parts, ":")
      obj = ""
      for (i = 1; i <= k; i++) if (parts[i] ~ /\.o$/) obj = parts[i]
      sub(/.*\//, "", obj)
      sub(/\.o$/, "", obj)
      sym = $NF
      type = $(NF - 1)
      if (type !~ /^[TDBRCGSV]$/) next
      if (sym ~ /^__/) next # made by the compiler (sanitizer ODR indicators)
      total++
      if (sym == "main" && obj == "main.c") next
      best = 0
      for (i = 1; i <= np; i++)
        if (index(sym, pre[i]) == 1 && (best == 0 || length(pre[i]) > length(pre[best]))) best = i
      if (best == 0) {
        printf "  %s: %s has no prefix in %s\n", obj, sym, table
        bad++
      } else if (index(files[best], " " obj " ") == 0) {
        printf "  %s: %s has the prefix %s, which belongs to:%s\n", obj, sym, pre[best], files[best]
        bad++
      }
    }
    END {
      if (bad) { printf "naming: %d problems\n", bad; exit 1 }
      if (!total) { print "naming: no symbols found"; exit 1 }
      printf "naming: %d symbols, every one where the table says\n", total
    }'
