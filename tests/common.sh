# tests/common.sh: how the shell test scripts begin (e2e/cli.sh,
# e2e/echo.sh, supervision/echo_heals.sh, and the runners lua/run.sh and
# supervision/run.sh). Sourced with the script's arguments:
#   . "$(dirname "${BASH_SOURCE[0]}")/../common.sh" "$@"
# Checks the WIPPY_BINARY argument and sets WIPPY (its absolute path),
# HERE (the script's directory) and REPO (the repository root). A script
# taking more arguments names them in WIPPY_USAGE first, for the usage line.
if [ $# -lt 1 ]; then
    echo "usage: $0 WIPPY_BINARY${WIPPY_USAGE:+ $WIPPY_USAGE}" >&2
    exit 2
fi
abspath() {
    case $1 in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s/%s\n' "$(cd "$(dirname "$1")" && pwd)" "$(basename "$1")" ;;
    esac
}
WIPPY=$(abspath "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
