/**
 * XDS_RULES 1–6: responses and acknowledgements, over real ADS streams.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { node } from '../support/ads-client.ts';
import { cluster, endpoints, routeConfig, smallMesh, snapshotOf } from '../support/fixtures.ts';
import { CDS, EDS, LDS, RDS, drain, metric, sorted, startHarness, type Harness } from '../support/conformance.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});
afterEach(() => h.closeStreams());
beforeEach(() => h.set(smallMesh()));

interface ProxyType {
  sentVersion: string | null;
  ackedVersion: string | null;
  lastNack: { rejectedVersion: string; stillRunning: string; message: string } | null;
}
async function proxyType(nodeId: string, type: string): Promise<ProxyType> {
  const { body } = await h.json<{ proxies: Array<{ node: string; streams: Array<{ types: Record<string, ProxyType> }> }> }>('/api/v1/proxies');
  const p = body.proxies.find((x) => x.node === nodeId);
  if (!p) throw new Error(`proxy ${nodeId} not listed`);
  return p.streams[0]!.types[type]!;
}

describe('rule 1: nonces and type_url', () => {
  it('rule 1: every SotW response has a nonce unique on the stream and its type_url on every Any', async () => {
    const s = h.client.sotw();
    s.send({ node: node('r1-sotw'), type_url: CDS });
    s.send({ type_url: EDS, resource_names: ['a', 'b'] });
    s.send({ type_url: LDS });
    s.send({ type_url: RDS, resource_names: ['r1'] });
    const got = await drain(s);
    expect(sorted(got.map((r) => r.type_url))).toEqual(sorted([CDS, EDS, LDS, RDS]));
    for (const r of got) s.ack(r, r.type_url === EDS ? ['a', 'b'] : r.type_url === RDS ? ['r1'] : []);
    for (let i = 0; i < 3; i++) {
      h.set(smallMesh({ endpoints: [endpoints('a', [9100 + i]), endpoints('b', [9200 + i])], clusters: [cluster('a', { connect_timeout: `${i + 2}s` }), cluster('b')] }));
      for (const r of await drain(s)) {
        got.push(r);
        s.ack(r, r.type_url === EDS ? ['a', 'b'] : []);
      }
    }
    expect(got.length).toBeGreaterThanOrEqual(4 + 6);
    const nonces = got.map((r) => r.nonce);
    expect(nonces.every((n) => n.length > 0)).toBe(true);
    expect(new Set(nonces).size).toBe(nonces.length);
    for (const r of got) for (const res of r.resources) expect(res.typeUrl).toBe(r.type_url);
    s.close();
  });

  it('rule 1: every delta response has a unique nonce and its type_url on every resource', async () => {
    const s = h.client.delta();
    s.send({ node: node('r1-delta'), type_url: CDS });
    s.send({ type_url: EDS, resource_names_subscribe: ['a', 'b'] });
    const got = await drain(s);
    for (const r of got) s.ack(r);
    h.set(smallMesh({ clusters: [cluster('a', { connect_timeout: '9s' }), cluster('b')] }));
    got.push(...(await drain(s)));
    expect(got.length).toBeGreaterThanOrEqual(3);
    const nonces = got.map((r) => r.nonce);
    expect(new Set(nonces).size).toBe(nonces.length);
    expect(nonces.every((n) => n.length > 0)).toBe(true);
    for (const r of got) for (const res of r.resources) expect(res.typeUrl).toBe(r.type_url);
    s.close();
  });
});

describe('rules 2–3: NACK and ACK', () => {
  it('rule 2+3 (sotw): a NACK is recorded with node, type, version and message; the rejected content is not resent; the applied version stays', async () => {
    const s = h.client.sotw();
    s.send({ node: node('nacker'), type_url: CDS });
    const r1 = await s.next();
    s.ack(r1);
    await expect.poll(async () => (await proxyType('nacker', 'cds')).ackedVersion).toBe(r1.version_info);

    h.set(smallMesh({ clusters: [cluster('a', { connect_timeout: '7s' }), cluster('b')] }));
    const r2 = await s.next();
    expect(r2.version_info).not.toBe(r1.version_info);
    const nacksBefore = metric(await h.metrics(), 'trellis_xds_nacks_total', { type: 'cds' });
    s.send({ type_url: CDS, version_info: r1.version_info, response_nonce: r2.nonce, error_detail: { code: 3, message: 'cluster a: bad timeout' } });
    expect(await s.silentFor(400)).toBe(true);
    const t = await proxyType('nacker', 'cds');
    expect(t.sentVersion).toBe(r2.version_info);
    expect(t.ackedVersion).toBe(r1.version_info); // rule 3: a NACK leaves it
    expect(t.lastNack).toMatchObject({ rejectedVersion: r2.version_info, stillRunning: r1.version_info, message: 'cluster a: bad timeout' });
    expect(metric(await h.metrics(), 'trellis_xds_nacks_total', { type: 'cds' })).toBe(nacksBefore + 1);

    // The same NACK again, and an unrelated type's change: still nothing for CDS.
    s.send({ type_url: CDS, version_info: r1.version_info, response_nonce: r2.nonce, error_detail: { code: 3, message: 'cluster a: bad timeout' } });
    h.set(smallMesh({ clusters: [cluster('a', { connect_timeout: '7s' }), cluster('b')], endpoints: [endpoints('a', [1]), endpoints('b', [2])] }));
    expect(await s.silentFor(400)).toBe(true);

    // The resource changes: sent, and an ACK moves the applied version (rule 3).
    h.set(smallMesh({ clusters: [cluster('a', { connect_timeout: '8s' }), cluster('b')] }));
    const r3 = await s.next();
    expect(r3.version_info).not.toBe(r2.version_info);
    s.ack(r3);
    await expect.poll(async () => (await proxyType('nacker', 'cds')).ackedVersion).toBe(r3.version_info);
    s.close();
  });

  it('rule 2 (delta): a NACK is recorded and nothing is resent until the resource changes', async () => {
    const s = h.client.delta();
    s.send({ node: node('delta-nacker'), type_url: EDS, resource_names_subscribe: ['a'] });
    const r1 = await s.next();
    s.ack(r1);
    h.set(smallMesh({ endpoints: [endpoints('a', [1234]), endpoints('b', [9002])] }));
    const r2 = await s.next();
    expect(r2.names).toEqual(['a']);
    s.send({ type_url: EDS, response_nonce: r2.nonce, error_detail: { code: 3, message: 'endpoint port 1234 refused' } });
    expect(await s.silentFor(400)).toBe(true);
    const t = await proxyType('delta-nacker', 'eds');
    expect(t.lastNack?.message).toBe('endpoint port 1234 refused');
    expect(t.ackedVersion).toBe(r1.system_version_info);
    h.set(smallMesh({ endpoints: [endpoints('a', [1235]), endpoints('b', [9002])] }));
    const r3 = await s.next();
    expect(r3.names).toEqual(['a']);
    expect(r3.resources[0]!.version).not.toBe(r2.resources[0]!.version);
    s.close();
  });

  it('rule 2: only error_detail makes a NACK — an older version_info without it is an ACK', async () => {
    const s = h.client.sotw();
    s.send({ node: node('old-version-acker'), type_url: CDS });
    const r1 = await s.next();
    const before = await h.metrics();
    s.send({ type_url: CDS, version_info: 'some-older-version', response_nonce: r1.nonce });
    expect(await s.silentFor(300)).toBe(true);
    const after = await h.metrics();
    expect(metric(after, 'trellis_xds_nacks_total', { type: 'cds' })).toBe(metric(before, 'trellis_xds_nacks_total', { type: 'cds' }));
    expect(metric(after, 'trellis_xds_acks_total', { type: 'cds' })).toBe(metric(before, 'trellis_xds_acks_total', { type: 'cds' }) + 1);
    expect((await proxyType('old-version-acker', 'cds')).lastNack).toBeNull();
    s.close();
  });
});

describe('rule 4: versions are content hashes', () => {
  const versionsOf = async (hh: Harness, nodeId: string) => {
    const s = hh.client.sotw();
    s.send({ node: node(nodeId), type_url: CDS });
    s.send({ type_url: EDS, resource_names: ['a', 'b'] });
    s.send({ type_url: LDS });
    s.send({ type_url: RDS, resource_names: ['r1'] });
    const got = await drain(s);
    s.close();
    return Object.fromEntries(got.map((r) => [r.type_url, r.version_info]));
  };

  it('rule 4: equal content gives the equal version_info, changed content a different one, going back the first again', async () => {
    const v1 = await versionsOf(h, 'v-1');
    h.set(smallMesh({ routes: [routeConfig('r1', [{ cluster: 'b' }])] }));
    const v2 = await versionsOf(h, 'v-2');
    expect(v2[RDS]).not.toBe(v1[RDS]);
    expect(v2[CDS]).toBe(v1[CDS]);
    h.set(smallMesh()); // fresh objects, same content
    expect(await versionsOf(h, 'v-3')).toEqual(v1);
  });

  it('rule 4: a second server (a replica, or a restart) with the same content gives the same versions', async () => {
    const other = await startHarness();
    try {
      other.set(smallMesh());
      const mine = await versionsOf(h, 'replica-1');
      const theirs = await versionsOf(other, 'replica-2');
      expect(theirs).toEqual(mine);
      expect(Object.keys(mine)).toHaveLength(4);
      const d1 = h.client.delta();
      const d2 = other.client.delta();
      d1.send({ node: node('replica-d1'), type_url: CDS });
      d2.send({ node: node('replica-d2'), type_url: CDS });
      const [x, y] = [await d1.next(), await d2.next()];
      const byName = (r: typeof x) => Object.fromEntries(r.resources.map((res) => [res.name, res.version]));
      expect(byName(y)).toEqual(byName(x));
      d1.close();
      d2.close();
    } finally {
      await other.close();
    }
  });

  it('rule 4: another process computes the same versions for the same content', async () => {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(here, '../support/print-versions.ts')], {
      timeout: 15_000,
      encoding: 'utf8',
      env: { ...process.env, TRELLIS_LOG_LEVEL: 'silent' },
    });
    const theirs = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, string>;
    const snap = snapshotOf(smallMesh());
    for (const t of [CDS, EDS, LDS, RDS]) expect(theirs[t]).toBe(snap.get(t).version);
    expect(await versionsOf(h, 'process-check')).toEqual(Object.fromEntries([CDS, EDS, LDS, RDS].map((t) => [t, theirs[t]])));
  });
});

describe('rule 5: nothing changed, nothing sent', () => {
  it('rule 5 (sotw): a repeated ACK, and a repeated first request, get no response', async () => {
    const s = h.client.sotw();
    s.send({ node: node('repeat-sotw'), type_url: EDS, resource_names: ['a'] });
    const r = await s.next();
    s.ack(r, ['a']);
    s.ack(r, ['a']);
    s.send({ type_url: EDS, resource_names: ['a'] });
    expect(await s.silentFor(400)).toBe(true);
    h.set(smallMesh()); // same content set again
    expect(await s.silentFor(300)).toBe(true);
    s.close();
  });

  it('rule 5 (delta): a repeated ACK and a repeated subscription to nothing new get no response', async () => {
    const s = h.client.delta();
    s.send({ node: node('repeat-delta'), type_url: CDS });
    const r = await s.next();
    s.ack(r);
    s.ack(r);
    s.send({ type_url: CDS });
    expect(await s.silentFor(400)).toBe(true);
    h.set(smallMesh());
    expect(await s.silentFor(300)).toBe(true);
    s.close();
  });
});

describe('rule 6: no name twice in one response', () => {
  it.each([
    ['sotw CDS', 'sotw', CDS, ['a', 'a', '*', 'b', 'a']],
    ['sotw EDS', 'sotw', EDS, ['a', 'b', 'a', 'b']],
    ['delta CDS', 'delta', CDS, ['a', '*', 'a', 'b']],
    ['delta EDS', 'delta', EDS, ['b', 'b', 'a']],
  ] as const)('rule 6: %s with duplicate names requested', async (_label, mode, type, names) => {
    const id = `dup-${mode}-${type.length}`;
    const responses =
      mode === 'sotw'
        ? await (async () => {
            const s = h.client.sotw();
            s.send({ node: node(id), type_url: type, resource_names: [...names] });
            const r = await s.next();
            s.close();
            return [r];
          })()
        : await (async () => {
            const s = h.client.delta();
            s.send({ node: node(id), type_url: type, resource_names_subscribe: [...names] });
            const r = await s.next();
            // re-subscribing forces a resend; still no duplicates
            s.send({ type_url: type, response_nonce: r.nonce, resource_names_subscribe: [...names] });
            const r2 = await s.next();
            s.close();
            return [r, r2];
          })();
    for (const r of responses) {
      expect(sorted(r.names)).toEqual(['a', 'b']);
      expect(new Set(r.names).size).toBe(r.names.length);
    }
  });
});
