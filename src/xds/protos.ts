/**
 * The Envoy API, loaded once from the pinned proto tree named in
 * protos/envoy-manifest.json. Field casing is decided here: Trellis uses the
 * proto field names as written (`keepCase`, snake_case), the same spelling an
 * operator sees in Envoy's YAML and config dumps. The TypeScript types of the
 * same tree are generated into ./generated/ (scripts/gen-envoy-types.sh).
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));

interface Manifest {
  source: { package: string; version: string; root: string };
  includeDirs: string[];
  files: string[];
}

export const MANIFEST_PATH = path.resolve(here, '../../protos/envoy-manifest.json');

let cached: protobuf.Root | undefined;

export function envoyRoot(): protobuf.Root {
  if (cached) return cached;
  const manifest = JSON.parse(readFileSync(MANIFEST_PATH, 'utf8')) as Manifest;
  const pkgDir = path.dirname(require.resolve(`${manifest.source.package}/package.json`));
  const installed = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version: string };
  if (installed.version !== manifest.source.version) {
    // The proto tree is part of our wire contract; a silent upgrade could change it.
    throw new Error(
      `Envoy protos: ${manifest.source.package} ${installed.version} is installed but protos/envoy-manifest.json pins ${manifest.source.version}; run npm ci`,
    );
  }
  const includeDirs = manifest.includeDirs.map((d) => path.join(pkgDir, manifest.source.root, d));
  // protobufjs ships google/protobuf/*.proto beside its own sources.
  includeDirs.push(path.dirname(require.resolve('protobufjs/package.json')));
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    if (path.isAbsolute(target)) return target;
    for (const dir of includeDirs) {
      const candidate = path.join(dir, target);
      try {
        readFileSync(candidate, { flag: 'r' });
        return candidate;
      } catch {
        /* try the next include dir */
      }
    }
    return target;
  };
  root.loadSync(manifest.files, { keepCase: true });
  root.resolveAll();
  cached = root;
  return root;
}

const typeCache = new Map<string, protobuf.Type>();

export function messageType(fullName: string): protobuf.Type {
  let t = typeCache.get(fullName);
  if (!t) {
    t = envoyRoot().lookupType(fullName);
    typeCache.set(fullName, t);
  }
  return t;
}
