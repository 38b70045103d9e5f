/** The examples the README points at must keep working. */
import { describe, expect, it } from 'vitest';
import { loadEnvoyResources } from '../src/runtime/resources-file.ts';
import { checkConsistency } from '../src/cache/snapshot.ts';
import { buildMesh } from '../src/model/index.ts';
import { loadPaths } from '../src/sources/file/load.ts';
import { TypeUrl } from '../src/xds/type-urls.ts';

describe('examples', () => {
  it('examples/xds/echo.yaml loads, encodes and is consistent', () => {
    const r = loadEnvoyResources('examples/xds/echo.yaml');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(checkConsistency(r.snapshot)).toEqual([]);
    expect([...r.snapshot.get(TypeUrl.Listener).items.keys()]).toEqual(['echo.demo.svc.cluster.local:8080']);
  });

  it('examples/demo builds a mesh with no errors', async () => {
    const loaded = await loadPaths(['examples/demo']);
    expect(loaded.errors).toEqual([]);
    const { model, statuses } = buildMesh(loaded.objects);
    expect(statuses.flatMap((s) => s.problems.filter((p) => p.severity === 'error'))).toEqual([]);
    expect([...model.services.keys()]).toContain('demo/recommendation');
    expect(model.mesh.authorization).toBe('strict');
  });
});
