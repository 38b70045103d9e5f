#!/usr/bin/env bash
# The whole gate: install what is missing, typecheck, run every vitest suite.
# Arguments go to vitest (e.g. `npm test -- test/support`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Issue 16 bug 14: setup must install from the lock, never rewrite it.
lock_before=$(sha256sum package-lock.json)
bash scripts/setup.sh
if [[ $(sha256sum package-lock.json) != "$lock_before" ]]; then
  echo "test: FAIL (issue 16 bug 14): scripts/setup.sh changed package-lock.json; it must install from the lock as it is (npm ci)" >&2
  exit 1
fi
bash scripts/setup-kube.sh
# Real parts the e2e suites run, each built or installed once (cached in ~/.cache/trellis):
bash scripts/setup-ratelimit.sh      # envoyproxy/ratelimit + Redis (global rate limits, issue 15)
bash scripts/setup-gateway-api.sh    # the Gateway API and conformance modules, echo-basic (issue 10)
bash scripts/setup-prometheus.sh     # Debian's prometheus (golden metrics read back, issue 12)
bash scripts/setup-jaeger.sh         # Jaeger all-in-one from the Go module proxy (traces, issue 12; a long first build)
bash scripts/setup-chromium.sh       # Debian's chromium, headless (the dashboard test, issue 12)
bash scripts/setup-go-control-plane.sh  # the go-control-plane peer (bench peer, its interop check; issue 14)
echo "test: tsc"
npx tsc -p tsconfig.json
echo "test: vitest"
# The JSON report gives the plain closing line CI reads ("N passed, N failed").
mkdir -p .cache
rm -f .cache/vitest-report.json
set +e
npx vitest run --reporter=default --reporter=json --outputFile.json=.cache/vitest-report.json "$@"
rc=$?
set -e
node -e '
  const fs = require("fs");
  const f = ".cache/vitest-report.json";
  if (!fs.existsSync(f)) { console.log("tests: no report written"); process.exit(0); }
  const r = JSON.parse(fs.readFileSync(f, "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
'
exit $rc
