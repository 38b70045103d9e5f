/**
 * Issue 11 bad input through the running pipeline: an invalid edit of an
 * ExternalService or an MTLSPolicy (a bad port, an unknown mode, a pod that
 * does not exist) is reported at its file, line and field, the last good
 * version keeps being served to the sidecars, and nothing crashes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MeshHarness, sidecarNode, type IntentsView } from '../support/mesh-harness.ts';
import { shopFiles } from './shop.ts';

const EXTERNAL = `apiVersion: trellis.io/v1alpha1
kind: ExternalService
metadata: {name: payments, namespace: shop}
spec:
  hosts: [api.payments.test]
  ports:
  - {port: 443, protocol: TLS}
`;
const MTLS = `apiVersion: trellis.io/v1alpha1
kind: MTLSPolicy
metadata: {name: frontend, namespace: shop}
spec:
  mode: Permissive
  targetRef: {kind: Pod, name: frontend}
`;

let h: MeshHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const statusOf = (view: IntentsView, kind: string, name: string) => view.intents.find((s) => s.kind === kind && s.name === name && s.namespace === 'shop');

describe('issue 11: an invalid ExternalService or MTLSPolicy edit keeps the last good one served', () => {
  it.each([
    { name: 'ExternalService: port 0', file: 'external.yaml', kind: 'ExternalService', object: 'payments', edit: EXTERNAL.replace('port: 443', 'port: 0'), field: 'spec.ports[0].port', line: 7 },
    { name: 'ExternalService: a bad hostname', file: 'external.yaml', kind: 'ExternalService', object: 'payments', edit: EXTERNAL.replace('api.payments.test', 'api_payments'), field: 'spec.hosts[0]', line: 5 },
    { name: 'MTLSPolicy: an unknown mode', file: 'mtls.yaml', kind: 'MTLSPolicy', object: 'frontend', edit: MTLS.replace('Permissive', 'Optional'), field: 'spec.mode', line: 5 },
    { name: 'MTLSPolicy: a pod that does not exist', file: 'mtls.yaml', kind: 'MTLSPolicy', object: 'frontend', edit: MTLS.replace('name: frontend}', 'name: frontend-9}'), field: 'spec.targetRef.name', line: 6 },
  ])('$name', async (c) => {
    h = await MeshHarness.start({ ...shopFiles('Permissive'), 'external.yaml': EXTERNAL, 'mtls.yaml': MTLS });
    const p = await h.sidecar(sidecarNode('frontend-1', 'shop/frontend'));
    const served = () => ({
      cluster: p.held.cds.has('external/api.payments.test:443'),
      plaintextChain: [...p.held.lds.values()].some((l) => (l.filter_chains ?? []).some((fc: { name?: string }) => fc.name?.endsWith('/plaintext'))),
    });
    expect(served()).toEqual({ cluster: true, plaintextChain: true });

    await h.write({ [c.file]: c.edit });
    await p.settle(300);
    expect(served()).toEqual({ cluster: true, plaintextChain: true });
    const s = statusOf(await h.intents(), c.kind, c.object);
    expect(s?.conditions.find((x) => x.type === 'Accepted')).toMatchObject({ status: 'False' });
    expect(s?.servedGeneration).toBe(1);
    expect(s?.problems.map((x) => ({ severity: x.severity, field: x.field, file: x.file, line: x.line }))).toEqual([{ severity: 'error', field: c.field, file: h.pathOf(c.file), line: c.line }]);
  });
});
