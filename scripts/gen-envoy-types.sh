#!/usr/bin/env bash
# Generates src/xds/generated/: TypeScript types for the Envoy protos Trellis
# loads, so that the builders in src/translate/ return typed Clusters,
# Listeners, RouteConfigurations, ClusterLoadAssignments and Secrets and a
# misspelt field or enum value fails to compile.
#
#   bash scripts/gen-envoy-types.sh          # (re)write src/xds/generated/
#   bash scripts/gen-envoy-types.sh --check  # exit 1 if it is not what this script writes
#
# Run it after changing protos/envoy-manifest.json (a new extension's proto,
# or a new pinned package version). The proto tree, its include dirs and its
# top-level files are read from that manifest, the one src/xds/protos.ts
# loads at run time, so the types describe exactly the messages Trellis can
# encode. The generator is @grpc/proto-loader's proto-loader-gen-types with
# the options grpc-js-xds uses (keepCase: snake_case fields, as Envoy's YAML;
# longs and enums as strings; defaults and oneofs). The output is committed:
# typechecking needs no generation step, and a change to it shows in review.
# Idempotent: the same manifest and packages give the same files, byte for byte.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

OUT=src/xds/generated
mode=${1:-write}

# The manifest's package, proto root, include dirs and files, as relative paths
# (the generator writes each source path into its file's header).
pkg_root=$(node -p "const m=require('./protos/envoy-manifest.json'); 'node_modules/'+m.source.package+'/'+m.source.root")
mapfile -t includes < <(node -p "require('./protos/envoy-manifest.json').includeDirs.join('\n')")
mapfile -t files < <(node -p "require('./protos/envoy-manifest.json').files.join('\n')")
include_args=()
for d in "${includes[@]}"; do include_args+=(--includeDirs "$pkg_root/$d"); done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

node_modules/.bin/proto-loader-gen-types \
  --keepCase --longs String --enums String --defaults --oneofs \
  --importFileExtension .ts \
  "${include_args[@]}" -O "$tmp/generated" "${files[@]}" >/dev/null

# Well-known types: the input ("permissive") form becomes the proto3 JSON
# mapping that src/xds/proto-json.ts converts before encoding, which is how
# the builders write Envoy config (as Envoy's YAML does): a Duration as
# "0.25s", a wrapper as its bare value, a Timestamp as RFC 3339, a Struct as
# plain JSON. The message forms stay allowed; the __Output types are untouched.
# Any needs nothing: its generated input type already takes `{'@type': ...}`.
node - "$tmp/generated/google/protobuf" <<'EOF'
const fs = require('node:fs');
const path = require('node:path');
const dir = process.argv[2];
const NOTE = '// Trellis (scripts/gen-envoy-types.sh): the input type also takes the proto3 JSON form that src/xds/proto-json.ts converts.\n';
function patch(file, from, to) {
  const p = path.join(dir, file);
  const text = fs.readFileSync(p, 'utf8');
  if (!from.test(text)) throw new Error(`gen-envoy-types: ${file} no longer has the shape this script patches; update the script`);
  fs.writeFileSync(p, text.replace(from, to).replace(/^\/\/ Original file: .*\n/, (h) => h + NOTE));
}
const bare = {
  DoubleValue: 'number', FloatValue: 'number', Int64Value: 'number | string', UInt64Value: 'number | string',
  Int32Value: 'number', UInt32Value: 'number', BoolValue: 'boolean', StringValue: 'string', BytesValue: 'Uint8Array | string',
};
for (const [name, type] of Object.entries(bare)) {
  patch(`${name}.ts`, new RegExp(`export interface ${name} \\{`), `export type ${name} = ${type} | {`);
}
patch('Duration.ts', /export interface Duration \{/, '/** "1.5s": seconds with an "s" suffix. */\nexport type Duration = `${string}s` | {');
patch('Timestamp.ts', /export interface Timestamp \{/, '/** RFC 3339, e.g. "2024-01-01T00:00:00Z". */\nexport type Timestamp = string | {');
patch('Struct.ts', /export interface Struct \{/, '/** Plain JSON, e.g. `{ "overload.global_downstream_max_connections": 50000 }`. */\nexport type Struct = { [key: string]: unknown } | {');
EOF

cat > "$tmp/generated/README.md" <<'EOF'
# Generated Envoy types — do not edit

Written by `scripts/gen-envoy-types.sh` (`npm run gen-types`) from the protos that
`protos/envoy-manifest.json` names, the same tree `src/xds/protos.ts` loads at run time, with
`proto-loader-gen-types --keepCase --longs String --enums String --defaults --oneofs`, as
grpc-js-xds generates its own. Regenerate after changing the manifest; a test
(`src/xds/generated-types.test.ts`) fails when this folder differs from what the script writes.

- Each message `M` has two types: `M`, what a builder may write (every field optional), and
  `M__Output`, what a decoder produces. Trellis's builders return the input types, so a
  misspelt field or enum value fails to compile.
- Well-known types take the proto3 JSON form too, because that is how Trellis writes Envoy
  config and what `src/xds/proto-json.ts` converts before encoding: `Duration` as `"0.25s"`,
  wrappers (`UInt32Value`...) as bare values, `Timestamp` as RFC 3339, `Struct` as plain JSON.
  `Any` takes `{'@type': url, ...fields}`; write it with `typedConfig` (src/xds/extensions.ts),
  which checks the fields against the type the URL names.
- Only types are used (`import type`): nothing here runs.
- Generated files are exempt from the file-size target (most files 100–300 lines).
EOF

if [[ $mode == --check ]]; then
  if ! diff -r "$OUT" "$tmp/generated" >/dev/null; then
    echo "gen-envoy-types: $OUT is out of date; run bash scripts/gen-envoy-types.sh" >&2
    diff -r "$OUT" "$tmp/generated" | head -20 >&2 || true
    exit 1
  fi
  echo "gen-envoy-types: $OUT is up to date"
  exit 0
fi
rm -rf "$OUT"
mv "$tmp/generated" "$OUT"
echo "gen-envoy-types: wrote $(find "$OUT" -name '*.ts' | wc -l) files to $OUT"
