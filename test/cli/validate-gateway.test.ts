/**
 * issue 10: `trellis validate` knows every Gateway API kind: the conformance
 * suite's own mesh manifests pass; a mistake in a route is printed in the
 * `path:line: Kind ns/name: field: message` form, with exit 1.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conformanceModule } from '../support/gateway-api.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
function trellis(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'bin/trellis.js'), ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'trellis-validate-gw-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('issue 10: trellis validate and the Gateway API kinds', () => {
  it("the conformance suite's mesh case manifests have no errors (Deployments are ignored with a warning)", async () => {
    const mesh = path.join(conformanceModule(), 'tests/mesh');
    const r = await trellis(['validate', '--quiet', path.join(conformanceModule(), 'mesh/manifests.yaml'), ...['httproute-matching', 'httproute-rewrite-path', 'httproute-redirect-path', 'httproute-query-param-matching', 'mesh-consumer-route', 'grpcroute-weight'].map((f) => path.join(mesh, `${f}.yaml`))]);
    expect(r.stdout).toBe('');
    expect(r.code, r.stderr).toBe(0);
  });

  it('a mistake in an HTTPRoute: path:line: Kind ns/name: field: message, exit 1', async () => {
    const file = path.join(dir, 'route.yaml');
    await writeFile(file, `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: demo}
spec:
  parentRefs: [{group: "", kind: Service, name: web}]
  rules:
  - matches:
    - path: {type: PathPrefx, value: /api}
    backendRefs: [{name: web-v1}]
`);
    const r = await trellis(['validate', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${file}:8: HTTPRoute demo/web: spec.rules[0].matches[0].path.type: "PathPrefx" is not supported. Did you mean "PathPrefix"?`);
    expect(r.stdout).toContain(`${file}:9: HTTPRoute demo/web: spec.rules[0].backendRefs[0].port: port is required for a Service reference`);
  });
});
