#!/usr/bin/env bash
# The real parts behind Trellis's global rate limits (docs/intents.md "Rate
# limits"): Envoy's reference rate limit service, github.com/envoyproxy/ratelimit,
# built from the Go module proxy into ~/.cache/trellis/ratelimit-<version>/, and
# Redis (Debian's redis-server), where that service keeps its counters.
# Idempotent: skips what is already there; prints one line per part.
#
# `--path`: print where the ratelimit binary is (or would be) and exit.
# Env: RATELIMIT_VERSION (a module version; default the pseudo-version below:
#      the module publishes no release tags the proxy lists, so a commit is
#      pinned), TRELLIS_CACHE (default $HOME/.cache/trellis).
set -euo pipefail

say() { printf 'setup-ratelimit: %s\n' "$*"; }
die() { printf 'setup-ratelimit: ERROR: %s\n' "$*" >&2; exit 1; }

VERSION=${RATELIMIT_VERSION:-v1.4.1-0.20260122083618-3fb702589d36}
DIR=${TRELLIS_CACHE:-$HOME/.cache/trellis}/ratelimit-$VERSION
BIN=$DIR/ratelimit
[[ ${1:-} == --path ]] && { printf '%s\n' "$BIN"; exit 0; }

# --- redis-server -------------------------------------------------------------
if command -v redis-server >/dev/null; then
  say "redis-server present ($(redis-server --version | awk '{print $3}'))"
else
  [[ $(id -u) == 0 ]] || die "redis-server is not installed and installing it needs root: run \`sudo apt-get install redis-server\`"
  say "apt-get install redis-server"
  # The package may enable a system redis service; tests start their own on their own ports.
  # Another apt may be running (a CI step, another setup script): wait for its lock.
  apt=(apt-get -o DPkg::Lock::Timeout=600)
  export DEBIAN_FRONTEND=noninteractive
  { "${apt[@]}" install -y -qq --no-install-recommends redis-server >/dev/null 2>&1 \
    || { "${apt[@]}" update -qq >/dev/null && "${apt[@]}" install -y -qq --no-install-recommends redis-server >/dev/null; }; } \
    || die "apt-get install redis-server failed"
  command -v redis-server >/dev/null || die "apt-get installed redis-server but it is not on PATH"
fi

# --- ratelimit ----------------------------------------------------------------
if [[ -x $BIN ]]; then say "ratelimit cached at $BIN"; exit 0; fi
command -v go >/dev/null || die "go is not installed (needed to build github.com/envoyproxy/ratelimit)"
mkdir -p "$DIR"
exec 9>"$DIR/.lock"
if ! flock -n 9; then
  say "another build is running (lock $DIR/.lock); waiting for it"
  flock 9
  [[ -x $BIN ]] && { say "ratelimit cached at $BIN"; exit 0; }
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
say "building github.com/envoyproxy/ratelimit@$VERSION (once; a few minutes)"
# A throwaway module requiring the service, so its own go.mod's versions are used as they are.
(
  cd "$tmp"
  export GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local} CGO_ENABLED=0
  go mod init trellis.local/ratelimit-build >/dev/null 2>&1
  go get "github.com/envoyproxy/ratelimit@$VERSION" >/dev/null 2>&1
  nice -n 19 go build -trimpath -o "$BIN.tmp" github.com/envoyproxy/ratelimit/src/service_cmd
) || die "building github.com/envoyproxy/ratelimit@$VERSION failed"
mv "$BIN.tmp" "$BIN"
say "ratelimit built at $BIN"
