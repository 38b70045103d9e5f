/**
 * `trellis status` against a real running Trellis (startControlPlane on the
 * demo mesh) with real ADS streams: one that ACKs everything (SYNCED), one
 * that NACKs CDS (NACKED with its message), one that leaves LDS un-ACKed
 * (STALE); the real binary reads the admin API as an operator runs it. Then
 * every bad input: a clear line, the right exit code, no stack trace.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProxySummary } from '../../src/admin/proxies.ts';
import { TypeUrl } from '../../src/xds/type-urls.ts';
import type { SotwStream } from '../support/ads-client.ts';
import { sidecar, startSecure, trellis, type SecureHarness } from '../security/support.ts';
import { freePort, notTrellisServer, until } from './admin-support.ts';

const { Cluster: CDS, Listener: LDS } = TypeUrl;
const NACK_MESSAGE = 'cluster demo/ratings:8080: bad circuit breaker';

let h: SecureHarness;
let other: http.Server;
let otherAddress: string;

/** Subscribe `type` (wildcard) and return the first answer. */
async function subscribe(s: SotwStream, node: ReturnType<typeof sidecar> | undefined, type: string) {
  s.send({ node, type_url: type, resource_names: [] });
  for (;;) {
    const r = await s.next(5000);
    if (r.type_url === type) return r;
  }
}

beforeAll(async () => {
  h = await startSecure();
  // frontend: CDS and LDS, both ACKed.
  const synced = h.plaintextClient().sotw();
  synced.ack(await subscribe(synced, sidecar('frontend'), CDS));
  synced.ack(await subscribe(synced, undefined, LDS));
  // ratings: CDS NACKed (LDS ACKed).
  const nacking = h.plaintextClient().sotw();
  const cds = await subscribe(nacking, sidecar('ratings'), CDS);
  nacking.send({ type_url: CDS, version_info: '', response_nonce: cds.nonce, error_detail: { code: 3, message: NACK_MESSAGE } });
  nacking.ack(await subscribe(nacking, undefined, LDS));
  // recommendation-v1: CDS ACKed, LDS received and never answered.
  const stale = h.plaintextClient().sotw();
  stale.ack(await subscribe(stale, sidecar('recommendation-v1'), CDS));
  await subscribe(stale, undefined, LDS);
  // Until the server has read every answer (the CLI reads the same view).
  await until(async () => {
    const { proxies } = await h.json<{ proxies: ProxySummary[] }>('/api/v1/proxies');
    const state = (node: string, t: string) => proxies.find((p) => p.node === node)?.sync[t]?.state;
    return state('demo/frontend', 'lds') === 'SYNCED' && state('demo/ratings', 'cds') === 'NACKED' && state('demo/ratings', 'lds') === 'SYNCED' && state('demo/recommendation-v1', 'cds') === 'SYNCED';
  });
  ({ server: other, address: otherAddress } = await notTrellisServer());
}, 30_000);
afterAll(async () => {
  await h?.close();
  await new Promise((r) => other?.close(r));
});

/** The table's cells for `node`, by header. */
function row(table: string, node: string): Record<string, string> {
  const lines = table.split('\n');
  const header = lines[0]!.split(/\s{3,}/);
  const cells = lines.find((l) => l.startsWith(`${node} `))?.split(/\s{3,}/);
  if (!cells) throw new Error(`no row for ${node} in:\n${table}`);
  return Object.fromEntries(header.map((k, i) => [k, cells[i] ?? '']));
}

describe('trellis status', () => {
  it('a row per node, sorted: SYNCED, NACKED with its message, STALE, — for a type never asked for', async () => {
    const run = await trellis(['status', '--admin', h.adminAddress]);
    expect(run.code, run.stderr).toBe(0);
    const nodes = run.stdout.split('\n').slice(1).filter((l) => l.startsWith('demo/')).map((l) => l.split(' ')[0]);
    expect(nodes).toEqual(['demo/frontend', 'demo/ratings', 'demo/recommendation-v1']);
    expect(row(run.stdout, 'demo/frontend')).toMatchObject({ CLUSTER: 'frontend', CDS: 'SYNCED', LDS: 'SYNCED', EDS: '—', RDS: '—', SDS: '—', STREAMS: '1 ads/sotw' });
    expect(row(run.stdout, 'demo/ratings')).toMatchObject({ CDS: 'NACKED', LDS: 'SYNCED' });
    expect(row(run.stdout, 'demo/recommendation-v1')).toMatchObject({ CDS: 'SYNCED', LDS: 'STALE' });
    expect(run.stdout).toContain(`demo/ratings CDS: ${NACK_MESSAGE}`);
    expect(run.stdout).toMatch(/^3 proxies: 1 in sync, 1 with a stale type, 1 with a NACK$/m);
  });

  it('--output json: the admin API\'s proxies with their per-type states', async () => {
    const run = await trellis(['status', '--output', 'json', '--admin', `http://${h.adminAddress}/`]);
    expect(run.code, run.stderr).toBe(0);
    const { proxies } = JSON.parse(run.stdout) as { proxies: ProxySummary[] };
    const byNode = Object.fromEntries(proxies.map((p) => [p.node, p.sync]));
    expect(byNode['demo/ratings']).toEqual({ cds: { state: 'NACKED', message: NACK_MESSAGE }, lds: { state: 'SYNCED' } });
    expect(byNode['demo/recommendation-v1']).toEqual({ cds: { state: 'SYNCED' }, lds: { state: 'STALE' } });
    // The older per-stream fields stay for compatibility, with the same state beside them.
    const lds = proxies.find((p) => p.node === 'demo/recommendation-v1')!.streams[0]!.types.lds!;
    expect(lds).toMatchObject({ inSync: false, state: 'STALE' });
  });
});

describe('trellis status: bad input', () => {
  const cases: Array<{ name: string; args: () => Promise<string[]>; code: number; stderr: RegExp }> = [
    {
      name: 'nothing listening',
      args: async () => ['status', '--admin', `127.0.0.1:${await freePort()}`],
      code: 1,
      stderr: /^trellis status: no Trellis admin API at http:\/\/127\.0\.0\.1:\d+: connection refused; is `trellis serve` running\? --admin URL/,
    },
    { name: 'another HTTP server', args: async () => ['status', '--admin', otherAddress], code: 1, stderr: /^trellis status: http:\/\/127\.0\.0\.1:\d+ is not a Trellis admin API \(GET \/api\/v1\/proxies: HTTP 200, text\/html\)/ },
    { name: 'a bad --admin', args: async () => ['status', '--admin', 'ftp://x:1'], code: 2, stderr: /^trellis status: --admin ftp:\/\/x:1: expected http:\/\/ or https:\/\/\nusage: trellis status/ },
    { name: 'a bad --output', args: async () => ['status', '--output', 'xml', '--admin', h.adminAddress], code: 2, stderr: /^trellis status: --output xml: expected table or json\nusage: trellis status/ },
  ];
  it.each(cases)('$name: exit $code, one line, no stack trace', async ({ args, code, stderr }) => {
    const run = await trellis(await args());
    expect(run.code, run.stderr).toBe(code);
    expect(run.stderr).toMatch(stderr);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stdout).toBe('');
  });
});
