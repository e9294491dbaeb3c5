#!/usr/bin/env bash
# Installs the clients not written here that the server's tests use besides buf curl: systemd-analyze (the unit is
# checked with `systemd-analyze verify`), Python's gRPC (a C-core gRPC client) and Prometheus' Python client (its
# parser reads the metrics). The tests skip with one line without them. Idempotent.
set -euo pipefail

packages=(systemd python3-grpcio python3-prometheus-client)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "server: ${packages[*]} already installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "server: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
