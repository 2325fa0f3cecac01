#!/usr/bin/env bash
# Fresh Debian 12 -> `wippy` on PATH: installs the build dependencies, builds
# the release binary and installs it (cmake --install, /usr/local/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWIPPY_BUILD_TESTS=OFF -DWIPPY_BUILD_BENCH=OFF >/dev/null
cmake --build build/release -j"$(nproc)" --target wippy
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO cmake --install build/release >/dev/null
echo "installed: $(command -v wippy) ($(wippy --version))" >&2
