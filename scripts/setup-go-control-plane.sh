#!/usr/bin/env bash
# The peer in the benchmark (issue 14, `scripts/bench.sh peer`): a small ADS
# server on github.com/envoyproxy/go-control-plane (its SnapshotCache and
# LinearCache), source in bench/go-control-plane/, built from the Go module
# proxy into ~/.cache/trellis/go-control-plane-<version>/peer-<source hash>.
# The binary's name carries a hash of the committed source (main.go, go.mod,
# go.sum), so an edited server is rebuilt and a current one never is.
# Idempotent: skips the build when that binary exists; prints one line.
#
# `--path`: print where the binary is (or would be) and exit.
# Env: TRELLIS_CACHE (default $HOME/.cache/trellis).
set -euo pipefail

say() { printf 'setup-go-control-plane: %s\n' "$*"; }
die() { printf 'setup-go-control-plane: ERROR: %s\n' "$*" >&2; exit 1; }

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../bench/go-control-plane" && pwd)
# One home for the version: the go.mod the server is built with.
VERSION=$(awk '$1 == "github.com/envoyproxy/go-control-plane" { print $2 }' "$SRC/go.mod")
[[ -n $VERSION ]] || die "$SRC/go.mod does not require github.com/envoyproxy/go-control-plane"
HASH=$(cat "$SRC/main.go" "$SRC/go.mod" "$SRC/go.sum" | sha256sum | cut -c1-12)
DIR=${TRELLIS_CACHE:-$HOME/.cache/trellis}/go-control-plane-$VERSION
BIN=$DIR/peer-$HASH
[[ ${1:-} == --path ]] && { printf '%s\n' "$BIN"; exit 0; }

if [[ -x $BIN ]]; then say "go-control-plane $VERSION peer cached at $BIN"; exit 0; fi
command -v go >/dev/null || die "go is not installed (needed to build the go-control-plane peer)"
mkdir -p "$DIR"
exec 9>"$DIR/.lock"
if ! flock -n 9; then
  say "another build is running (lock $DIR/.lock); waiting for it"
  flock 9
  [[ -x $BIN ]] && { say "go-control-plane $VERSION peer cached at $BIN"; exit 0; }
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$SRC/main.go" "$SRC/go.mod" "$SRC/go.sum" "$tmp/"
(
  cd "$tmp"
  export GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local} CGO_ENABLED=0
  nice -n 19 go build -trimpath -o "$BIN.tmp" .
) >"$tmp/build.log" 2>&1 || die "building the go-control-plane $VERSION peer failed: $(tail -5 "$tmp/build.log")"
mv "$BIN.tmp" "$BIN"
say "go-control-plane $VERSION peer built at $BIN"
