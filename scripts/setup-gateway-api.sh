#!/usr/bin/env bash
# The Gateway API, pinned: the Go modules sigs.k8s.io/gateway-api (its
# config/crd/standard/ are the CRDs committed under deploy/crds/gateway-api/)
# and sigs.k8s.io/gateway-api/conformance (a module of its own in v1.6: the
# MESH cases' manifests and expectations, tests/mesh/*.yaml and *.go, and the
# suite's echo server, echo-basic), from the Go module proxy; echo-basic built
# once. Everything goes to ~/.cache/trellis/gateway-api-v<version>/:
#   module/       the gateway-api module's files (read-only copy of the zip)
#   conformance/  the conformance module's files
#   echo-basic    the echo server binary
# Idempotent: skips what exists. Prints one line. Tests that need these fail
# with a message naming this script when they are missing.
# Env: GATEWAY_API_VERSION (default v1.6.3), TRELLIS_CACHE (default $HOME/.cache/trellis).
set -euo pipefail

VERSION=${GATEWAY_API_VERSION:-v1.6.3}
DIR=${TRELLIS_CACHE:-$HOME/.cache/trellis}/gateway-api-$VERSION
die() { printf 'setup-gateway-api: ERROR: %s\n' "$*" >&2; exit 1; }

if [[ -x $DIR/echo-basic && -d $DIR/module/config/crd/standard && -d $DIR/conformance/tests/mesh ]]; then
  echo "setup-gateway-api: $VERSION cached at $DIR"
  exit 0
fi
command -v go >/dev/null || die "go is not installed"
mkdir -p "$DIR"
exec 9>"$DIR/.lock"
flock 9

export GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local} CGO_ENABLED=0

# `go mod download -json M@V` prints the module's extracted directory ("Dir").
module_dir() {
  local info
  info=$(go mod download -json "$1@$VERSION") || die "go mod download $1@$VERSION failed"
  sed -n 's/^\s*"Dir": "\(.*\)",\?$/\1/p' <<<"$info"
}

copy_module() { # module, target
  [[ -d $DIR/$2 ]] && return 0
  local src
  src=$(module_dir "$1")
  [[ -d $src ]] || die "no directory for $1@$VERSION"
  cp -r "$src" "$DIR/$2.tmp"
  chmod -R u+w "$DIR/$2.tmp"
  mv "$DIR/$2.tmp" "$DIR/$2"
}

copy_module sigs.k8s.io/gateway-api module
copy_module sigs.k8s.io/gateway-api/conformance conformance

if [[ ! -x $DIR/echo-basic ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # A throwaway module: the conformance module requires gateway-api at
  # v0.0.0 (a replace to ../ that only works inside its repository).
  cat >"$tmp/go.mod" <<EOF
module trellis.local/echobuild

go 1.26

require (
	sigs.k8s.io/gateway-api $VERSION
	sigs.k8s.io/gateway-api/conformance $VERSION
)

replace sigs.k8s.io/gateway-api => sigs.k8s.io/gateway-api $VERSION
EOF
  printf 'package echobuild\n\nimport _ "sigs.k8s.io/gateway-api/conformance/echo-basic/grpc"\n' >"$tmp/tools.go"
  (cd "$tmp" && go mod tidy >/dev/null 2>&1 || true
   nice -n 19 go build -o "$DIR/echo-basic.tmp" sigs.k8s.io/gateway-api/conformance/echo-basic) || die "building echo-basic failed"
  mv "$DIR/echo-basic.tmp" "$DIR/echo-basic"
fi
echo "setup-gateway-api: $VERSION ready at $DIR (CRDs, conformance cases, echo-basic)"
