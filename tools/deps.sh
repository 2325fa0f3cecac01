#!/usr/bin/env bash
# Installs the Debian 12 packages wippy needs to build (and, with --test, to
# run every test), skipping those already installed. Uses sudo when not root.
set -euo pipefail
pkgs=(build-essential cmake pkg-config liblua5.4-dev libyaml-dev libck-dev libjemalloc-dev libutf8proc-dev
      libnats-dev libssl-dev libncurses-dev libmicrohttpd-dev)
if [ "${1:-}" = "--test" ]; then
  # tmux and jq: tests/control/ drives wippy top in tmux and reads its JSON
  # curl and prometheus (promtool): tests/metrics/ scrapes /metrics and checks it
  # openssl: tests/cluster/run.sh makes a throwaway CA and certificates for TLS to NATS
  pkgs+=(procps clang-14 libclang-rt-14-dev nats-server tmux jq curl prometheus openssl)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
