#!/usr/bin/env bash
# The benchmarks (not part of `npm test`): figures, never assertions.
#   npm run bench                          # every step below but soak: xds (N = 1,000 then 10,000 streams), translate, ...
#   npm run bench -- --streams 1000        # options go to the xds step: see bench/run.ts
#   scripts/bench.sh xds [options]         # only the xds benchmark
#   scripts/bench.sh translate [options]   # only the translation benchmark: see bench/translate.ts (--quick: 100 proxies)
#   scripts/bench.sh translate-routes [options] # only 1,000 HTTPRoutes vs the SMI equivalent (1,000 TrafficSplits), one
#                                          # proxy's translation: see bench/translate-routes.ts (issue 10)
#   scripts/bench.sh sds [options]         # only SDS: 1,000 TLS streams reconnecting after a restart
#                                          # until all hold valid secrets: see bench/sds-reconnect.ts
#   scripts/bench.sh kube [options]        # only the cluster: 1,000 streams on `serve --source kubernetes` against a
#                                          # real kube-apiserver, 5,000 EndpointSlice updates/min for 60 s, change→ACK
#                                          # p50/p99: see bench/kube-churn.ts (needs scripts/kube-apiserver.sh's binary, etcd)
#   scripts/bench.sh interference [options] # only XDS_RULES 25: change→response on other streams beside a blocked
#                                          # reader and during a NACK storm: see bench/interference.ts
#   scripts/bench.sh demo [options]        # only the demo mesh with real Envoys: start-up, HTTPRoute edit → every
#                                          # Envoy ACKed p50/p99: see bench/demo-edit.ts
#   scripts/bench.sh reroute [options]     # only the edit -> traffic delay: a TrafficSplit edit in the watched folder to
#                                          # the first call of real proxyless gRPC clients (grpc-js-xds, grpcio) on the
#                                          # new version: see bench/reroute.ts
#   scripts/bench.sh edits [options]       # only the edit -> served delay: 100 edits of the watched folder, half written
#                                          # in place, half renamed over (as editors save), to the EDS response with the
#                                          # new address; p50/p99/max (target p99 < 1 s): see bench/edit-latency.ts
#   scripts/bench.sh memory [options]      # only memory per change: heap+external (after GC) and RSS after 100 vs after
#                                          # 10,000 changes through the file source, ADS streams ACKing: see bench/memory.ts
#   scripts/bench.sh abuse [options]       # only the xDS port's memory budget: what streams sending ~1.9 MiB of names under
#                                          # unknown type URLs make the server keep (issue 16 bug 5): see bench/abuse.ts
#   scripts/bench.sh scale [options]       # only issue 14's mesh: 1,000 services x 1,000 workloads, one ADS stream per
#                                          # workload (SotW and delta), permissive and strict: initial sync, then a policy,
#                                          # split, service, pod, endpoint (and TrafficTarget) edit -> every affected stream
#                                          # ACKed p50/p99, server CPU, encodes; memory per stream: see bench/scale.ts
#   scripts/bench.sh model-edit [options]  # only the model side of issue 14's edits (file watcher + model build, no
#                                          # translation) on the 1,000 x 1,000 mesh: CPU p50/max per edit: see bench/model-edit.ts
#   scripts/bench.sh scale-storm [options] # only issue 14's bad input on that mesh (watcher on its own timing): 1,000
#                                          # edits in ~1 s, every service's endpoints at once, every stream reconnecting
#                                          # while edits land; publishes, last state served, in sync, peak RSS: see
#                                          # bench/scale-storm.ts
#   scripts/bench.sh peer [options]        # only the peer comparison (issue 14): the same 1,000 streams against Trellis and
#                                          # go-control-plane v0.14 (SnapshotCache, LinearCache) in one run, SotW and delta:
#                                          # initial sync, endpoint and cluster change -> every stream ACKed p50/p99, server
#                                          # CPU, side by side as ratios (builds the peer once: scripts/setup-go-control-plane.sh):
#                                          # see bench/peer.ts
#   scripts/bench.sh dashboard [options]   # only the dashboard: CPU, wall time and JSON size of one poll of /api/v1/graph
#                                          # at 100 / 1,000 / 3,000 workloads: see bench/dashboard-graph.ts
#   scripts/bench.sh hedge [options]       # only request hedging (issue 15): p50/p99 through real sidecars to two
#                                          # instances, one slow, with no retry, per-try retry and hedging: see bench/hedge.ts
#   scripts/bench.sh overhead [options]    # only the data plane: latency p50/p99 and Envoy CPU a client + server sidecar
#                                          # pair adds over a direct call, HTTP/1.1, gRPC and TCP at 1,000 rps with 1 KB
#                                          # payloads, permissive / strict / undeclared port: see bench/overhead.ts
#   scripts/bench.sh stats [options]       # only issue 12's stats cost: sidecar CPU and memory per 1,000 rps with the
#                                          # golden-metric stats on vs off (one real Envoy): see bench/stats-cost.ts
#   scripts/bench.sh rollout [options]     # only issue 12's rollback reaction: a Rollout's canary starts failing -> canary
#                                          # weight 0 ACKed on every Envoy, vs the target window + 2 s (--window 10, --runs 3,
#                                          # --prometheus to read through Prometheus): see bench/rollout-reaction.ts
#   scripts/bench.sh soak [options]        # opt-in, not in the default run: SOAK_MINUTES (30) of churn, intent edits and
#                                          # streams connecting and leaving; heap and RSS samples, slope after warm-up:
#                                          # see bench/soak.ts
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
case "${1:-}" in
  translate) shift; exec node --import tsx bench/translate.ts "$@" ;;
  translate-routes) shift; exec node --expose-gc --import tsx bench/translate-routes.ts "$@" ;;
  xds) shift; exec node --import tsx bench/run.ts "$@" ;;
  sds) shift; exec node --import tsx bench/sds-reconnect.ts "$@" ;;
  kube) shift; exec node --import tsx bench/kube-churn.ts "$@" ;;
  interference) shift; exec node --import tsx bench/interference.ts "$@" ;;
  demo) shift; exec node --import tsx bench/demo-edit.ts "$@" ;;
  reroute) shift; exec node --import tsx bench/reroute.ts "$@" ;;
  edits) shift; exec node --import tsx bench/edit-latency.ts "$@" ;;
  memory) shift; exec node --import tsx bench/memory.ts "$@" ;;
  soak) shift; exec node --import tsx bench/soak.ts "$@" ;;
  scale) shift; exec node --expose-gc --max-old-space-size=8000 --import tsx bench/scale.ts "$@" ;;
  model-edit) shift; exec node --expose-gc --max-old-space-size=8000 --import tsx bench/model-edit.ts "$@" ;;
  scale-storm) shift; exec node --max-old-space-size=8000 --import tsx bench/scale-storm.ts "$@" ;;
  stats) shift; exec node --import tsx bench/stats-cost.ts "$@" ;;
  rollout) shift; TRELLIS_LOG_LEVEL=warn exec node --import tsx bench/rollout-reaction.ts "$@" ;;
  abuse) shift; TRELLIS_LOG_LEVEL=error exec node --import tsx bench/abuse.ts "$@" ;;
  dashboard) shift; exec node --import tsx bench/dashboard-graph.ts "$@" ;;
  peer) shift; bash scripts/setup-go-control-plane.sh; exec node --import tsx bench/peer.ts "$@" ;;
  hedge) shift; TRELLIS_LOG_LEVEL=error exec node --import tsx bench/hedge.ts "$@" ;;
  overhead) shift; TRELLIS_LOG_LEVEL=warn exec node --import tsx bench/overhead.ts "$@" ;;
esac
# Step 1: the xDS server (issue 2).
node --import tsx bench/run.ts "$@"
# Step 2: translation, model → Envoy config for one proxy and for all (issue 3).
node --import tsx bench/translate.ts
# Step 2b: 1,000 HTTPRoutes vs 1,000 TrafficSplits for one proxy (issue 10).
node --expose-gc --import tsx bench/translate-routes.ts
# Step 3: SDS, 1,000 streams reconnecting after a restart until all hold valid secrets (issue 4).
node --import tsx bench/sds-reconnect.ts
# Step 4: other streams beside a blocked reader and during a NACK storm (XDS_RULES 25).
node --import tsx bench/interference.ts
# Step 5: the demo mesh with real Envoys: intent edit → every Envoy ACKed (issue 5).
node --import tsx bench/demo-edit.ts
# Step 6: an operator's edit to real proxyless gRPC clients' traffic (was asserted in test/interop).
node --import tsx bench/reroute.ts
# Step 6b: every edit of the watched folder, in place or renamed over, to the change served (issue 16 bug 7).
node --import tsx bench/edit-latency.ts
# Step 7: a cluster's EndpointSlice churn, 5,000 updates/min for 1,000 streams (issue 6).
node --import tsx bench/kube-churn.ts
# Step 8: what abusive streams make the xDS port keep (issue 16 bug 5).
TRELLIS_LOG_LEVEL=error node --import tsx bench/abuse.ts
# Step 8b: scale by what changed, one stream per workload of a 1,000 x 1,000 mesh (issue 14).
node --expose-gc --max-old-space-size=8000 --import tsx bench/scale.ts
# Step 8b': its bad input: an edit burst, an edit of every service, a reconnect storm during edits (issue 14).
node --max-old-space-size=8000 --import tsx bench/scale-storm.ts
# Step 8c: request hedging past a slow instance, p99 with and without (issue 15).
TRELLIS_LOG_LEVEL=error node --import tsx bench/hedge.ts
# Step 9: the data plane's overhead: a sidecar pair over a direct call, HTTP/1.1, gRPC, TCP (issue 11).
TRELLIS_LOG_LEVEL=warn node --import tsx bench/overhead.ts
# Step 9b: a failing canary rolled back: errors start -> weight 0 on every Envoy (issue 12).
TRELLIS_LOG_LEVEL=warn node --import tsx bench/rollout-reaction.ts
# Step 10: memory after 10,000 config changes vs after 100 (issue 16). The soak is opt-in: scripts/bench.sh soak.
exec node --import tsx bench/memory.ts
