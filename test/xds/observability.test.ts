/**
 * XDS_RULES 29–30: what the protocol looks like from outside — Prometheus
 * metrics, and per node and per resource what was sent, ACKed and NACKed.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IdentityVerifier } from '../../src/identity/verifier.ts';
import { node } from '../support/ads-client.ts';
import { cluster, smallMesh, type MeshSpec } from '../support/fixtures.ts';
import { CDS, EDS, SDS, drain, eventually, grpc, metric, settled, sorted, startHarness, type Harness } from '../support/conformance.ts';

const OWNER = 'spiffe://trellis.test/ns/shop/sa/cart';
const verifier: IdentityVerifier = {
  async verify(md) {
    return md['x-test-spiffe-id'] ? { ok: true, identity: { spiffeId: md['x-test-spiffe-id'] } } : { ok: false, reason: 'missing', message: 'none' };
  },
};
const KEY_MATERIAL = ['PRIVATE-KEY-PEM-BODY', 'S0VZLUJZVEVT', 'KEY-BYTES', 'hunter2', 'GENERIC-SECRET-VALUE'];
const withSecrets = (m: MeshSpec): MeshSpec => ({
  ...m,
  secrets: [
    { name: 'cert-pem', __owner: OWNER, tls_certificate: { certificate_chain: { inline_string: 'CERT' }, private_key: { inline_string: 'PRIVATE-KEY-PEM-BODY' }, password: { inline_string: 'hunter2' } } },
    { name: 'cert-bytes', __owner: OWNER, tls_certificate: { certificate_chain: { inline_string: 'CERT' }, private_key: { inline_bytes: Buffer.from('KEY-BYTES').toString('base64') } } },
    { name: 'token', __owner: OWNER, generic_secret: { secret: { inline_string: 'GENERIC-SECRET-VALUE' } } },
  ],
});

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ verifier, allowSecretsOverPlaintext: true });
  h.set(withSecrets(smallMesh()));
});
afterAll(async () => {
  await h?.close();
});
afterEach(() => h.closeStreams());

interface TypeView {
  subscription: { wildcard: boolean; names: string[] };
  sentVersion: string | null;
  ackedVersion: string | null;
  inSync: boolean;
  lastNack: { rejectedVersion: string; stillRunning: string; message: string } | null;
}
interface ProxyView {
  node: string;
  cluster: string;
  streams: Array<{ api: string; mode: string; identity: string | null; types: Record<string, TypeView> }>;
}
interface ConfigView {
  node: string;
  types: Record<string, Array<{ name: string; version: string; status: string; nackMessage?: string; resource: Record<string, unknown> }>>;
}

describe('rule 29: protocol metrics', () => {
  it('rule 29: streams, bytes per type, ACK latency from change, NACKs, blocked streams and queue depth are exposed', async () => {
    const s = h.client.sotw();
    s.send({ node: node('metrics-node'), type_url: CDS });
    const r1 = await s.next();
    s.ack(r1);
    await settled(h, 'metrics-node');
    const before = await h.metrics();
    expect(metric(before, 'trellis_xds_streams', { api: 'ads-sotw' })).toBe(1);
    expect(metric(before, 'trellis_xds_response_bytes_total', { type: 'cds' })).toBeGreaterThanOrEqual(r1.bytes);

    // A change, its response and the ACK: one change-to-ACK observation.
    const changedAt = Date.now();
    h.set(withSecrets(smallMesh({ clusters: [cluster('a', { connect_timeout: '2s' }), cluster('b')] })));
    const r2 = await s.next();
    s.ack(r2);
    await settled(h, 'metrics-node');
    const elapsedS = (Date.now() - changedAt) / 1000;
    const after = await h.metrics();
    const count = (t: string) => metric(t, 'trellis_xds_change_to_ack_seconds_count', { type: 'cds' });
    expect(count(after)).toBe(count(before) + 1);
    const sum = metric(after, 'trellis_xds_change_to_ack_seconds_sum', { type: 'cds' }) - metric(before, 'trellis_xds_change_to_ack_seconds_sum', { type: 'cds' });
    // In seconds, and within the time the test itself saw pass (not a figure: the unit and the span).
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThanOrEqual(elapsedS + 0.001);
    expect(metric(after, 'trellis_xds_response_bytes_total', { type: 'cds' }) - metric(before, 'trellis_xds_response_bytes_total', { type: 'cds' })).toBe(r2.bytes);
    expect(metric(after, 'trellis_xds_acks_total', { type: 'cds' })).toBeGreaterThanOrEqual(2);

    h.set(withSecrets(smallMesh({ clusters: [cluster('a', { connect_timeout: '3s' }), cluster('b')] })));
    const r3 = await s.next();
    s.send({ type_url: CDS, response_nonce: r3.nonce, version_info: r2.version_info, error_detail: { code: grpc.status.INVALID_ARGUMENT, message: 'nope' } });
    expect(await eventually(async () => metric(await h.metrics(), 'trellis_xds_nacks_total', { type: 'cds' }) === metric(after, 'trellis_xds_nacks_total', { type: 'cds' }) + 1)).toBe(true);

    const text = await h.metrics();
    for (const name of [
      'trellis_xds_streams',
      'trellis_xds_responses_total',
      'trellis_xds_response_bytes_total',
      'trellis_xds_acks_total',
      'trellis_xds_nacks_total',
      'trellis_xds_change_to_ack_seconds',
      'trellis_xds_blocked_streams',
      'trellis_xds_queue_depth',
      'trellis_xds_large_responses_total',
      'trellis_xds_rejected_requests_total',
    ]) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
    expect(metric(text, 'trellis_xds_blocked_streams')).toBe(0);
    expect(metric(text, 'trellis_xds_queue_depth')).toBe(0);
    s.close();
    expect(await eventually(async () => metric(await h.metrics(), 'trellis_xds_streams', { api: 'ads-sotw' }) === 0)).toBe(true);
  });

  it('rule 29: requests refused with a status are counted by reason', async () => {
    const before = metric(await h.metrics(), 'trellis_xds_rejected_requests_total', { reason: 'no_type_url' });
    const s = h.client.delta();
    s.send({ node: node('refused'), type_url: '' });
    await s.ended();
    expect(metric(await h.metrics(), 'trellis_xds_rejected_requests_total', { reason: 'no_type_url' })).toBe(before + 1);
  });
});

describe('rule 30: per node and per resource: sent, ACKed, NACKed and why', () => {
  it('rule 30: /api/v1/proxies shows per type what was sent, ACKed, and the last NACK with its message', async () => {
    h.set(withSecrets(smallMesh()));
    const s = h.client.sotw();
    s.send({ node: { ...node('proxy-view'), cluster: 'shop' }, type_url: CDS });
    const r1 = await s.next();
    s.ack(r1);
    s.send({ type_url: EDS, resource_names: ['a'] });
    const e1 = await s.next();
    s.ack(e1, ['a']);
    await settled(h, 'proxy-view');
    h.set(withSecrets(smallMesh({ clusters: [cluster('a', { connect_timeout: '6s' }), cluster('b')] })));
    const [r2] = await drain(s);
    expect(r2!.type_url).toBe(CDS);
    s.send({ type_url: CDS, response_nonce: r2!.nonce, version_info: r1.version_info, error_detail: { code: 3, message: 'cluster a: connect_timeout too long' } });
    await expect
      .poll(async () => {
        const { body } = await h.json<{ proxies: ProxyView[] }>('/api/v1/proxies');
        return body.proxies.find((p) => p.node === 'proxy-view')?.streams[0]?.types.cds?.lastNack?.message;
      })
      .toBe('cluster a: connect_timeout too long');
    const { status, body } = await h.json<{ proxies: ProxyView[] }>('/api/v1/proxies');
    expect(status).toBe(200);
    const p = body.proxies.find((x) => x.node === 'proxy-view')!;
    expect(p.cluster).toBe('shop');
    expect(p.streams).toHaveLength(1);
    expect(p.streams[0]).toMatchObject({ api: 'ads', mode: 'sotw' });
    const { cds, eds } = p.streams[0]!.types;
    expect(cds).toMatchObject({
      subscription: { wildcard: true, names: [] },
      sentVersion: r2!.version_info,
      ackedVersion: r1.version_info,
      inSync: false,
      lastNack: { rejectedVersion: r2!.version_info, stillRunning: r1.version_info, message: 'cluster a: connect_timeout too long' },
    });
    expect(eds).toMatchObject({ subscription: { wildcard: false, names: ['a'] }, sentVersion: e1.version_info, ackedVersion: e1.version_info, inSync: true, lastNack: null });
  });

  it('rule 30: /api/v1/proxies/{node}/config shows each resource as ACKED or NACKED (with the reason), and never key material', async () => {
    h.set(withSecrets(smallMesh()));
    const md = new grpc.Metadata();
    md.set('x-test-spiffe-id', OWNER);
    const s = h.client.sotw(md);
    s.send({ node: node('dump/me'), type_url: CDS });
    s.send({ type_url: SDS });
    for (const r of await drain(s)) s.ack(r);
    await settled(h, 'dump/me');
    h.set(withSecrets(smallMesh({ clusters: [cluster('a', { connect_timeout: '6s' }), cluster('b')] })));
    const r2 = await s.next();
    s.send({ type_url: CDS, response_nonce: r2.nonce, version_info: '', error_detail: { code: 3, message: 'a: rejected' } });
    let view: ConfigView | undefined;
    await expect
      .poll(async () => {
        const { body } = await h.json<ConfigView>(`/api/v1/proxies/${encodeURIComponent('dump/me')}/config`);
        view = body;
        return body.types.cds?.find((r) => r.name === 'a')?.status;
      })
      .toBe('NACKED');
    const byName = Object.fromEntries(view!.types.cds!.map((r) => [r.name, r]));
    expect(byName.a).toMatchObject({ status: 'NACKED', nackMessage: 'a: rejected', version: h.server.cache.get('*')!.get(CDS).get('a')!.version });
    expect(byName.b).toMatchObject({ status: 'ACKED' });
    expect(byName.b!.resource).toMatchObject({ '@type': CDS, name: 'b' });
    expect(sorted(view!.types.sds!.map((r) => r.name))).toEqual(['cert-bytes', 'cert-pem', 'token']);
    expect(view!.types.sds!.every((r) => r.status === 'ACKED')).toBe(true);
    const text = JSON.stringify(view);
    for (const secret of KEY_MATERIAL) expect(text).not.toContain(secret);
    expect(text).toContain('CERT'); // the certificate itself is public and shown
    expect((await h.json(`/api/v1/proxies/nobody/config`)).status).toBe(404);
  });
});
