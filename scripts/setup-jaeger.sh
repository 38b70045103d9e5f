#!/usr/bin/env bash
# Builds Jaeger (v2: an OpenTelemetry Collector distribution with an OTLP
# receiver, in-memory storage and the query API) from the Go module proxy, for
# the tracing e2e test (test/e2e/telemetry-tracing.test.ts) and the demo.
# Cached under ~/.cache/trellis/jaeger-v<version>/jaeger; instant once built.
# Prints the binary's path on stdout (progress on stderr).
#
# `--path`: print where the binary is (or would be) and exit without building.
# Env: JAEGER_VERSION (default 1.75.0, the approved release), TRELLIS_CACHE
#      (default $HOME/.cache/trellis), JAEGER_BIN (use this binary; no build).
# A large build (10-30 minutes on 2 cores the first time); runs under nice.
set -euo pipefail

say() { printf 'setup-jaeger: %s\n' "$*" >&2; }
die() { printf 'setup-jaeger: ERROR: %s\n' "$*" >&2; exit 1; }

if [[ -n ${JAEGER_BIN:-} ]]; then
  [[ ${1:-} == --path || -x $JAEGER_BIN ]] || die "JAEGER_BIN=$JAEGER_BIN is not executable"
  printf '%s\n' "$JAEGER_BIN"; exit 0
fi

VERSION=${JAEGER_VERSION:-1.75.0}
DIR=${TRELLIS_CACHE:-$HOME/.cache/trellis}/jaeger-v$VERSION
BIN=$DIR/jaeger
[[ ${1:-} == --path ]] && { printf '%s\n' "$BIN"; exit 0; }
if [[ -x $BIN ]]; then say "jaeger cached at $BIN"; printf '%s\n' "$BIN"; exit 0; fi

command -v go >/dev/null || die "go is not installed"
mkdir -p "$DIR"
exec 9>"$DIR/.lock"
if ! flock -n 9; then
  say "another build is running (lock $DIR/.lock); waiting for it"
  flock 9
  [[ -x $BIN ]] && { printf '%s\n' "$BIN"; exit 0; }
fi

export GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local} CGO_ENABLED=0
build=$DIR/build
mkdir -p "$build" && cd "$build"
[[ -f go.mod ]] || go mod init trellis.local/jaeger-build >/dev/null 2>&1
start=$(date +%s)
say "go get -tool github.com/jaegertracing/jaeger/cmd/jaeger@v$VERSION"
go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@v$VERSION" >&2 || die "go get failed (module at $build)"
say "go build (nice -n 19; 10-30 minutes the first time)"
nice -n 19 go build -trimpath -ldflags "-s -w" -o "$BIN.tmp" github.com/jaegertracing/jaeger/cmd/jaeger \
  || die "go build failed (module at $build)"
mv "$BIN.tmp" "$BIN"
say "built in $(( $(date +%s) - start )) s: $BIN"
printf '%s\n' "$BIN"
