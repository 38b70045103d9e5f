#!/usr/bin/env bash
# Builds a real kube-apiserver for the Kubernetes-source tests, with Go, from the
# Go module proxy, at a pinned release, and caches the binary so later runs are
# instant. Prints the binary's path on stdout (progress goes to stderr).
#
# k8s.io/kubernetes's own go.mod replaces its staging modules (k8s.io/api,
# k8s.io/apiserver, ...) with ./staging/src paths that do not exist for a
# dependent module, and requires them at v0.0.0. The throwaway go.mod written
# here requires each of them at the matching published v0.<minor>.<patch>
# and pins it there with a `replace`, so the build resolves.
#
# `--path`: print where the binary is (or would be) and exit without building.
# Env: KUBE_VERSION (default 1.37.2), TRELLIS_CACHE (default $HOME/.cache/trellis),
#      KUBE_APISERVER_BIN (use this binary instead; nothing is built).
# Takes 10-20 minutes on 2 cores the first time; runs under `nice -n 19`.
set -euo pipefail

say() { printf 'kube-apiserver: %s\n' "$*" >&2; }
die() { printf 'kube-apiserver: ERROR: %s\n' "$*" >&2; exit 1; }

if [[ -n ${KUBE_APISERVER_BIN:-} ]]; then
  [[ ${1:-} == --path || -x $KUBE_APISERVER_BIN ]] || die "KUBE_APISERVER_BIN=$KUBE_APISERVER_BIN is not executable"
  printf '%s\n' "$KUBE_APISERVER_BIN"; exit 0
fi

VERSION=${KUBE_VERSION:-1.37.2}
STAGING=0.${VERSION#*.}          # 1.37.2 -> 0.37.2: the staging modules' tag
DIR=${TRELLIS_CACHE:-$HOME/.cache/trellis}/kube-apiserver-v$VERSION
BIN=$DIR/kube-apiserver
[[ ${1:-} == --path ]] && { printf '%s\n' "$BIN"; exit 0; }

if [[ -x $BIN ]]; then printf '%s\n' "$BIN"; exit 0; fi

command -v go >/dev/null || die "go is not installed (needs Go >= 1.26 for Kubernetes v$VERSION)"
mkdir -p "$DIR"
# One build at a time: a second caller waits for the first one's binary.
exec 9>"$DIR/.lock"
if ! flock -n 9; then
  say "another build is running (lock $DIR/.lock); waiting for it"
  flock 9
  [[ -x $BIN ]] && { printf '%s\n' "$BIN"; exit 0; }
fi

export GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local} CGO_ENABLED=0
cd "$DIR"

say "fetching k8s.io/kubernetes@v$VERSION's go.mod from the module proxy"
info=$(go mod download -json "k8s.io/kubernetes@v$VERSION") || die "go mod download k8s.io/kubernetes@v$VERSION failed"
gomod=$(sed -n 's/^\s*"GoMod": "\(.*\)",\?$/\1/p' <<<"$info")
[[ -f $gomod ]] || die "no go.mod in: $info"
gover=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod")
# The staging modules: every `k8s.io/X => ./staging/...` replace in that go.mod.
mapfile -t staging < <(sed -n 's/^\s*\(k8s\.io\/[A-Za-z0-9._/-]*\) => \.\/staging\/.*/\1/p' "$gomod")
(( ${#staging[@]} > 0 )) || die "found no staging replaces in $gomod"
# Only those it requires are needed (sample-controller etc. are not published).
mapfile -t required < <(for m in "${staging[@]}"; do
  grep -qE "^\s*${m//./\\.} v0\.0\.0" "$gomod" && printf '%s\n' "$m"; done)
say "${#required[@]} staging modules pinned at v$STAGING"

{
  printf 'module trellis.local/kube-apiserver-build\n\ngo %s\n\n' "${gover:-1.26.0}"
  printf 'require (\n\tk8s.io/kubernetes v%s\n' "$VERSION"
  for m in "${required[@]}"; do printf '\t%s v%s\n' "$m" "$STAGING"; done
  printf ')\n\nreplace (\n'
  for m in "${required[@]}"; do printf '\t%s => %s v%s\n' "$m" "$m" "$STAGING"; done
  printf ')\n'
} >go.mod
rm -f go.sum
# A package in the module so `go` has something to hang the requirement on.
mkdir -p keep && printf 'package keep\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver/app"\n' >keep/keep.go

pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=v$VERSION -X $pkg.gitMajor=${VERSION%%.*} -X $pkg.gitMinor=$(cut -d. -f2 <<<"$VERSION") -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
start=$(date +%s)
say "go build k8s.io/kubernetes/cmd/kube-apiserver (nice -n 19; 10-20 minutes the first time)"
nice -n 19 go build -trimpath -ldflags "$ldflags" -o "$BIN.tmp" k8s.io/kubernetes/cmd/kube-apiserver \
  || die "go build failed (go.mod at $DIR/go.mod)"
mv "$BIN.tmp" "$BIN"
say "built in $(( $(date +%s) - start )) s: $("$BIN" --version 2>&1)"
printf '%s\n' "$BIN"
