#!/usr/bin/env bash
# The xDS benchmark (not part of `npm test`): figures, never assertions.
#   npm run bench                          # N = 1,000 then 10,000 streams
#   npm run bench -- --streams 1000        # options: see bench/run.ts
# Everything binds 127.0.0.1 and stops by itself (per-run timeouts, a global watchdog).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[ -d node_modules ] || bash scripts/setup.sh
# 10,000 streams over ~100 connections, plus the server's side of each: ask
# for more descriptors when the soft limit is low (the hard limit permitting).
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 20000 ]; then
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  [ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 20000 ] || ulimit -n 20000 2>/dev/null || true
fi
exec node --import tsx bench/run.ts "$@"
