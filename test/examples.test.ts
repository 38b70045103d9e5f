/** The examples the README points at must keep working. */
import { describe, expect, it } from 'vitest';
import { loadEnvoyResources } from '../src/runtime/resources-file.ts';
import { checkConsistency } from '../src/cache/snapshot.ts';
import { buildMesh } from '../src/model/index.ts';
import { loadPaths } from '../src/sources/file/load.ts';
import { TypeUrl } from '../src/xds/type-urls.ts';
import { rmSync } from 'node:fs';
import { smiDemoCopy } from './support/demo-smi.ts';

describe('examples', () => {
  it('examples/xds/echo.yaml loads, encodes and is consistent', () => {
    const r = loadEnvoyResources('examples/xds/echo.yaml');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(checkConsistency(r.snapshot)).toEqual([]);
    expect([...r.snapshot.get(TypeUrl.Listener).items.keys()]).toEqual(['echo.demo.svc.cluster.local:8080']);
  });

  it('examples/demo builds a mesh with no errors; the HTTPRoute routes recommendation; the ingress Gateway waits only for the certificate the demo writes', async () => {
    // Not local/ingress-tls.yaml: `trellis demo` writes it at start (git ignores it), so a checkout has none.
    const loaded = await loadPaths(['examples/demo']);
    expect(loaded.errors).toEqual([]);
    const { model, statuses } = buildMesh(loaded.objects.filter((o) => !(o.kind === 'Secret' && o.metadata.name === 'ingress-tls')));
    expect(statuses.flatMap((s) => s.problems.map((p) => `${p.severity} ${s.kind} ${s.namespace}/${s.name} ${p.field}`))).toEqual([
      'warning Gateway demo/ingress spec.listeners[1].tls.certificateRefs[0].name',
    ]);
    expect(model.gateways.get('demo/ingress')?.ports.map((p) => `${p.protocol} ${p.port}`)).toEqual(['HTTP 8080']);
    expect([...model.services.keys()]).toContain('demo/recommendation');
    expect(model.mesh.authorization).toBe('strict');
    expect(statuses.filter((s) => s.kind === 'HTTPRoute').map((s) => s.name)).toEqual(['frontend', 'recommendation']);
    expect(statuses.filter((s) => s.kind === 'TrafficSplit')).toEqual([]);
  });

  it('examples/smi (the demo with SMI intents, as its README runs it) builds a mesh with no errors; TrafficSplits route recommendation (the ingress waits for its certificate, as above)', async () => {
    const dir = smiDemoCopy();
    try {
      const loaded = await loadPaths([dir]);
      expect(loaded.errors).toEqual([]);
      const { model, statuses } = buildMesh(loaded.objects);
      expect(statuses.flatMap((s) => s.problems.map((p) => `${p.severity} ${s.kind} ${s.namespace}/${s.name}`))).toEqual(['warning Gateway demo/ingress']);
      expect(statuses.filter((s) => s.kind === 'HTTPRoute').map((s) => s.name)).toEqual(['frontend']); // the ingress route, not routing in the mesh
      expect(model.splits.get('demo/recommendation')!.backends.map((b) => b.weight)).toEqual([90, 10]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
