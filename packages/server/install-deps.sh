#!/usr/bin/env bash
# Installs the clients not written here that the server's tests use besides buf curl: systemd-analyze (the unit is
# checked with `systemd-analyze verify`), Python's gRPC (a C-core gRPC client) and Prometheus' Python client (its
# parser reads the metrics). The tests skip with one line without them. Idempotent.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../../scripts/apt-install.sh" server systemd python3-grpcio python3-prometheus-client
