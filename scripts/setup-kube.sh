#!/usr/bin/env bash
# What the Kubernetes-source tests (test/kube) need: etcd (Debian's etcd-server)
# and a kube-apiserver built from the Go module proxy (scripts/kube-apiserver.sh,
# cached under ~/.cache/trellis; 10-20 minutes the first time, instant after).
# Idempotent. Not fatal: when something cannot be had, the reason goes to
# .cache/kube-missing and the kube tests fail with it (they never skip).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'setup-kube: %s\n' "$*"; }
mkdir -p .cache
rm -f .cache/kube-missing
missing=()

# --- etcd -------------------------------------------------------------------
if command -v etcd >/dev/null; then
  say "etcd present ($(etcd --version 2>/dev/null | head -1))"
elif ! command -v apt-get >/dev/null; then
  missing+=("etcd is not installed and apt-get is not available: install etcd 3.4+ on PATH")
else
  as_root=()
  if [[ $(id -u) != 0 ]]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then as_root=(sudo -n); fi
  fi
  if [[ $(id -u) != 0 && ${#as_root[@]} == 0 ]]; then
    missing+=("etcd is not installed and installing it needs root: run \`sudo apt-get install etcd-server\`")
  else
    say "apt-get install etcd-server"
    # The package enables a system etcd service; tests start their own on random ports.
    if ! { "${as_root[@]}" apt-get update -qq >/dev/null \
           && "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server >/dev/null; }; then
      missing+=("\`apt-get install etcd-server\` failed (see above)")
    elif ! command -v etcd >/dev/null; then
      missing+=("apt-get installed etcd-server but etcd is not on PATH")
    fi
  fi
fi

# --- kube-apiserver -----------------------------------------------------------
bin=$(bash scripts/kube-apiserver.sh --path)
if [[ -x $bin ]]; then
  say "kube-apiserver cached at $bin"
else
  say "building kube-apiserver (once; 10-20 minutes on 2 cores)"
  log=.cache/kube-apiserver-build.log
  if bash scripts/kube-apiserver.sh >"$log.out" 2>"$log"; then
    say "kube-apiserver built: $(cat "$log.out")"
  else
    missing+=("building kube-apiserver failed; see $log (last line: $(tail -1 "$log"))")
  fi
fi

# --- iptables ---------------------------------------------------------------
# `trellis inject`'s redirect script is tested for real inside network
# namespaces (test/cli/inject-iptables.test.ts, test/e2e/transparent-pod.test.ts);
# they need root and iptables, and skip with the reason printed where either
# is missing. Install iptables when we can; never fatal.
if ! command -v iptables >/dev/null && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  say "apt-get install iptables (for the transparent-mode tests in network namespaces)"
  { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iptables iproute2 >/dev/null; } \
    || say "WARNING: could not install iptables; the network-namespace tests will skip"
fi

if (( ${#missing[@]} > 0 )); then
  printf '%s\n' "${missing[@]}" >.cache/kube-missing
  for m in "${missing[@]}"; do say "WARNING: $m (test/kube will fail)"; done
fi
exit 0
