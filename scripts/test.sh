#!/usr/bin/env bash
# The whole gate: install what is missing, typecheck, run every vitest suite.
# Arguments go to vitest (e.g. `npm test -- test/support`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
bash scripts/setup-kube.sh
echo "test: tsc"
npx tsc -p tsconfig.json
echo "test: vitest"
exec npx vitest run "$@"
