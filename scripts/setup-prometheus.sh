#!/usr/bin/env bash
# What the telemetry tests (test/e2e/telemetry.test.ts) and `trellis demo`'s
# golden metrics need: a real Prometheus, Debian's `prometheus` package.
# Idempotent: prints one line and exits 0 when it is already on PATH. Not
# fatal: when it cannot be installed the reason is printed and the telemetry
# tests fail naming this script (the demo then reads the sidecars directly).
set -uo pipefail

say() { printf 'setup-prometheus: %s\n' "$*"; }

if command -v prometheus >/dev/null; then
  say "prometheus present ($(prometheus --version 2>&1 | head -1))"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  say "WARNING: prometheus is not installed and apt-get is not available: install Prometheus 2.x on PATH (or set TRELLIS_PROMETHEUS_BIN)"
  exit 0
fi
as_root=()
if [[ $(id -u) != 0 ]]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then as_root=(sudo -n); else
    say "WARNING: prometheus is not installed and installing it needs root: run \`sudo apt-get install prometheus\`"
    exit 0
  fi
fi
say "apt-get install prometheus"
# The package's own service (if the machine runs one) is not used: Trellis starts its own on other ports.
if "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 \
   || { "${as_root[@]}" apt-get update -qq >/dev/null && "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }; then
  say "prometheus installed ($(prometheus --version 2>&1 | head -1))"
else
  say "WARNING: \`apt-get install prometheus\` failed; the telemetry tests will fail"
fi
exit 0
