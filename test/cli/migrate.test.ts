/**
 * issue 10: `trellis migrate` prints the Gateway API equivalent of a folder's
 * SMI routing; served instead of the TrafficSplits, it routes the same
 * requests to the same backends with the same weights. The SMI demo
 * (examples/smi) migrated routes like the Gateway API demo (examples/demo).
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { buildMesh } from '../../src/model/index.ts';
import { objectsFrom } from '../../src/model/testing.ts';
import { httpPorts, virtualHost } from '../../src/translate/routes.ts';
import { DEMO_DIR, smiDemoCopy } from '../support/demo-smi.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

function trellis(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'bin/trellis.js'), ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** A demo folder's files (subfolders too), with TrafficSplits dropped when asked. */
function meshFiles(dir: string, withoutSplits: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const f of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, f.name);
      if (f.isDirectory()) walk(p);
      else if (f.name.endsWith('.yaml')) {
        const text = readFileSync(p, 'utf8');
        out[p] = withoutSplits ? text.split(/^---$/m).filter((d) => !/^kind: TrafficSplit$/m.test(d)).join('---') : text;
      }
    }
  };
  walk(dir);
  return out;
}

type Json = Record<string, any>; // Envoy routes as built
const destinations = (files: Record<string, string>) => {
  const { model, statuses } = buildMesh(objectsFrom(files));
  expect(statuses.filter((s) => s.problems.some((p) => p.severity === 'error')).map((s) => s.name)).toEqual([]);
  const s = model.services.get('demo/recommendation')!;
  const vh = virtualHost(model, s, httpPorts(s)[0]!, { callerNamespace: 'demo', isDefaultPort: true, kind: 'envoy' }) as Json;
  return (vh.routes as Json[]).filter((r) => !r.name.endsWith('/retry')).map((r) => ({
    headers: (r.match.headers ?? []).filter((h: Json) => h.name !== ':method').map((h: Json) => [h.name, h.string_match.exact ?? h.string_match.safe_regex.regex]),
    to: r.route.cluster ? [[r.route.cluster, 1]] : r.route.weighted_clusters.clusters.map((c: Json) => [c.name, c.weight]),
  }));
};

describe('issue 10: trellis migrate', () => {
  it('prints an HTTPRoute per split root that, served instead of the TrafficSplits, routes the SMI demo the same way, and as the Gateway API demo does', async () => {
    const smi = smiDemoCopy();
    const r = await trellis(['migrate', smi]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('1 HTTPRoute from 2 TrafficSplits');
    const routes = parseAllDocuments(r.stdout).map((d) => d.toJSON() as Json);
    expect(routes.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`)).toEqual(['HTTPRoute demo/recommendation']);
    const before = destinations(meshFiles(smi, false));
    const after = destinations({ ...meshFiles(smi, true), 'migrated.yaml': r.stdout });
    rmSync(smi, { recursive: true, force: true });
    expect(after).toEqual(before);
    expect(destinations(meshFiles(DEMO_DIR, false))).toEqual(before);
    expect(before).toEqual([
      { headers: [['x-canary', 'true']], to: [['recommendation-v2.demo:8080', 1]] },
      { headers: [], to: [['recommendation-v1.demo:8080', 90], ['recommendation-v2.demo:8080', 10]] },
    ]);
  });

  it('bad input: no path is a usage error (exit 2)', async () => {
    const r = await trellis(['migrate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('usage: trellis migrate');
  });
});
