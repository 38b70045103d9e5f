#!/usr/bin/env bash
# What the dashboard test (test/e2e/dashboard.test.ts) needs: a headless
# browser, Debian's `chromium` package, driven over the DevTools protocol (no
# npm package). Idempotent: prints one line and exits 0 when it is already on
# PATH. Not fatal: when it cannot be installed the reason is printed and the
# dashboard test fails naming this script.
set -uo pipefail

say() { printf 'setup-chromium: %s\n' "$*"; }

if command -v chromium >/dev/null; then
  say "chromium present ($(chromium --version 2>/dev/null | head -1))"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  say "WARNING: chromium is not installed and apt-get is not available: install Chromium on PATH (or set TRELLIS_CHROMIUM_BIN)"
  exit 0
fi
as_root=()
if [[ $(id -u) != 0 ]]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then as_root=(sudo -n); else
    say "WARNING: chromium is not installed and installing it needs root: run \`sudo apt-get install chromium\`"
    exit 0
  fi
fi
say "apt-get install chromium"
if "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
   || { "${as_root[@]}" apt-get update -qq >/dev/null && "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; then
  say "chromium installed ($(chromium --version 2>/dev/null | head -1))"
else
  say "WARNING: \`apt-get install chromium\` failed; the dashboard test will fail"
fi
exit 0
