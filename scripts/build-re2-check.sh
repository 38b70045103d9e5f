#!/usr/bin/env bash
# Builds the RE2 checker (native/re2-check.cc, a Node-API addon) into
# .cache/re2-check/re2-check.node. Trellis validates every regex with it: the
# RE2 library Envoy uses, not JavaScript's RegExp (issue 16 bug 6).
# Idempotent: rebuilt only when the source, this script or libre2 changed.
# Needs g++ and Debian's libre2-dev (installed here with apt-get when missing
# and we are root); the built addon needs only libre2 at run time.
# Env: RE2_CHECK_OUT overrides the output directory (the Dockerfile uses it).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
SRC=native/re2-check.cc
OUT=${RE2_CHECK_OUT:-.cache/re2-check}
say() { printf 're2-check: %s\n' "$*"; }
die() { printf 're2-check: ERROR: %s\n' "$*" >&2; exit 1; }

command -v g++ >/dev/null || die "g++ not found; install it (Debian: apt-get install g++)"

# Node-API's header ships with Node: /usr/include/node (Debian's nodejs) or
# <prefix>/include/node (nodejs.org builds and the node Docker images).
node_include=
for dir in "$(dirname "$(dirname "$(command -v node)")")/include/node" /usr/include/node /usr/local/include/node; do
  if [[ -f $dir/node_api.h ]]; then node_include=$dir; break; fi
done
[[ -n $node_include ]] || die "node_api.h not found next to $(command -v node) or in /usr/include/node; install Node.js with its headers"

if ! echo '#include <re2/re2.h>' | g++ -std=c++17 -fsyntax-only -x c++ - 2>/dev/null; then
  if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    say "apt-get install libre2-dev"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libre2-dev; } >/dev/null \
      || die "apt-get install libre2-dev failed (see above)"
  else
    die "RE2's headers (re2/re2.h) are missing: install Debian's libre2-dev (sudo apt-get install libre2-dev) and rerun"
  fi
fi

# The stamp names everything the binary depends on: source, this script, and
# the libre2 it links (a library upgrade changes what RE2 accepts).
lib=$(g++ -print-file-name=libre2.so)
want=$(cat "$SRC" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)-$(readlink -f "$lib" | xargs basename)
if [[ -f $OUT/re2-check.node && $(cat "$OUT/stamp" 2>/dev/null || true) == "$want" ]]; then
  say "up to date ($OUT/re2-check.node)"
  exit 0
fi
mkdir -p "$OUT"
say "building $OUT/re2-check.node against $(readlink -f "$lib")"
# Built to a temporary name and renamed, so a failed build never leaves a
# half-written addon that a running Trellis would load.
g++ -std=c++17 -O2 -shared -fPIC -I"$node_include" -DNODE_GYP_MODULE_NAME=re2_check \
  "$SRC" -o "$OUT/re2-check.node.tmp" -lre2 || die "compiling $SRC failed (see above)"
mv "$OUT/re2-check.node.tmp" "$OUT/re2-check.node"
echo "$want" >"$OUT/stamp"
node -e 'const m = require(process.argv[1]); if (!m.check("(?i)a").ok || !m.fullMatch("(?i)a+", "aA").matched || m.fullMatch("a", "ab").matched) process.exit(1);' "$PWD/$OUT/re2-check.node" \
  || die "the built addon does not load or answer (see above)"
say "ok"
