/**
 * `trellis config-dump` against a real running Trellis (startControlPlane on
 * the demo mesh, with a CA): a sidecar proves its identity over TLS, takes its
 * secrets, clusters and listeners and NACKs the listeners; the real binary
 * dumps what it was sent, narrowed by type and name, as YAML or JSON, and
 * never prints a private key. Then every bad input: one clear line, the right
 * exit code, no stack trace.
 */
import { X509Certificate } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { TypeUrl } from '../../src/xds/type-urls.ts';
import {
  DEMO,
  identitySecrets,
  quietLog,
  sidecar,
  spiffe,
  startSecure,
  subscribeSds,
  tokenMetadata,
  trellis,
  TRUST_BUNDLE_SECRET,
  uriSans,
  WORKLOAD_CERTIFICATE_SECRET,
  type SecureHarness,
} from '../security/support.ts';
import { freePort, notTrellisServer, until } from './admin-support.ts';

const { Cluster: CDS, Listener: LDS } = TypeUrl;
const NODE = 'demo/frontend';
const NACK_MESSAGE = 'listener rejected: test';

interface Dump {
  node: string;
  configs: Array<{ type: string; resources: Array<{ name: string; version_info: string; status: string; error_state?: string; resource: Record<string, any> }> }>;
}

let h: SecureHarness;
let empty: RunningControlPlane;
let other: http.Server;
let otherAddress: string;
let clusterNames: string[];
let keyPem: string;

beforeAll(async () => {
  h = await startSecure({ plaintextXdsAddress: undefined });
  const s = h.tlsClient().sotw(tokenMetadata(h.token('frontend', NODE)));
  const sds = await subscribeSds(s, sidecar('frontend'), [WORKLOAD_CERTIFICATE_SECRET, TRUST_BUNDLE_SECRET]);
  keyPem = identitySecrets(sds)[0]!.keyPem;
  s.send({ type_url: CDS, resource_names: [] });
  const cds = await s.next(5000);
  clusterNames = cds.names;
  s.ack(cds);
  s.send({ type_url: LDS, resource_names: [] });
  const lds = await s.next(5000);
  s.send({ type_url: LDS, version_info: '', response_nonce: lds.nonce, error_detail: { code: 3, message: NACK_MESSAGE } });
  await until(async () => {
    const config = await h.json<{ types: Record<string, Array<{ status: string }>> }>(`/api/v1/proxies/${encodeURIComponent(NODE)}/config`);
    return config.types.cds?.[0]?.status === 'ACKED' && config.types.lds?.[0]?.status === 'NACKED';
  });
  empty = await startControlPlane({ xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', sourceDir: DEMO, log: quietLog() });
  ({ server: other, address: otherAddress } = await notTrellisServer());
}, 30_000);
afterAll(async () => {
  await h?.close();
  await empty?.stop();
  await new Promise((r) => other?.close(r));
});

const dump = (...args: string[]) => trellis(['config-dump', ...args, '--admin', h.adminAddress]);

describe('trellis config-dump', () => {
  it('YAML by default: every type it was sent, each resource with version and status; keys redacted', async () => {
    const run = await dump(NODE);
    expect(run.code, run.stderr).toBe(0);
    const doc = parse(run.stdout) as Dump;
    expect(doc.node).toBe(NODE);
    expect(doc.configs.map((c) => c.type)).toEqual(['cds', 'lds', 'sds']);
    const cds = doc.configs.find((c) => c.type === 'cds')!;
    expect(cds.resources.map((r) => r.name).sort()).toEqual([...clusterNames].sort());
    expect(cds.resources.every((r) => r.status === 'ACKED' && r.version_info !== '' && r.resource['@type'] === CDS)).toBe(true);
    const lds = doc.configs.find((c) => c.type === 'lds')!;
    expect(lds.resources.every((r) => r.status === 'NACKED' && r.error_state === NACK_MESSAGE)).toBe(true);
    expect(run.stdout).toContain('BEGIN CERTIFICATE'); // certificates are shown...
    expect(run.stdout).not.toMatch(/PRIVATE KEY/); // ...keys never
    expect(run.stdout).not.toContain(keyPem.split('\n')[1]);
  });

  it('--type SDS --name: that secret alone, its certificate for the proven identity, its key redacted', async () => {
    const run = await dump(NODE, '--type', 'SDS', '--name', WORKLOAD_CERTIFICATE_SECRET);
    expect(run.code, run.stderr).toBe(0);
    const doc = parse(run.stdout) as Dump;
    expect(doc.configs).toHaveLength(1);
    const [secret] = doc.configs[0]!.resources;
    expect(doc.configs[0]!.resources).toHaveLength(1);
    expect(secret!.name).toBe(WORKLOAD_CERTIFICATE_SECRET);
    expect(secret!.resource.tls_certificate.private_key).toBe('[redacted]');
    expect(secret!.resource.tls_certificate.certificate_chain.inline_string).toMatch(/BEGIN CERTIFICATE/);
    expect(run.stdout + run.stderr).not.toMatch(/PRIVATE KEY/);
    const chain = String(secret!.resource.tls_certificate.certificate_chain.inline_string);
    expect(uriSans(new X509Certificate(chain))).toEqual([spiffe('frontend')]);
  });

  it('--type as a type URL, --output json: only clusters, as JSON', async () => {
    const run = await dump(NODE, '--type', CDS, '--name', clusterNames[0]!, '--output', 'json');
    expect(run.code, run.stderr).toBe(0);
    const doc = JSON.parse(run.stdout) as Dump;
    expect(doc.configs).toEqual([{ type: 'cds', resources: [expect.objectContaining({ name: clusterNames[0], status: 'ACKED' })] }]);
  });

  it('--output json of everything: no private key either', async () => {
    const run = await dump(NODE, '--output', 'json');
    expect(run.code, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as Dump).configs.map((c) => c.type)).toEqual(['cds', 'lds', 'sds']);
    expect(run.stdout).not.toMatch(/PRIVATE KEY/);
  });
});

describe('trellis config-dump: bad input', () => {
  const cases: Array<{ name: string; args: () => Promise<string[]>; code: number; stderr: RegExp }> = [
    { name: 'an unknown node names the connected ones', args: async () => ['demo/nope', '--admin', h.adminAddress], code: 1, stderr: /^trellis config-dump: no proxy "demo\/nope" is connected to http:\/\/127\.0\.0\.1:\d+ \(connected: demo\/frontend\)\n$/ },
    { name: 'an unknown node, nothing connected', args: async () => ['demo/nope', '--admin', `127.0.0.1:${empty.adminPort}`], code: 1, stderr: /^trellis config-dump: no proxy "demo\/nope" is connected to .* \(no proxy is connected\)\n$/ },
    { name: 'an unknown --type', args: async () => [NODE, '--type', 'xds', '--admin', h.adminAddress], code: 2, stderr: /^trellis config-dump: --type xds: expected one of cds, eds, lds, rds, sds \(any case\) or a type URL.*\nusage: trellis config-dump/ },
    { name: 'a name it does not hold', args: async () => [NODE, '--type', 'cds', '--name', 'nope', '--admin', h.adminAddress], code: 1, stderr: /^trellis config-dump: proxy "demo\/frontend" holds no CDS resource named "nope" \(it holds: .+\)\n$/ },
    { name: 'no node', args: async () => ['--admin', h.adminAddress], code: 2, stderr: /^trellis config-dump: config-dump needs a node id \(trellis status lists them\)\nusage:/ },
    { name: 'nothing listening', args: async () => [NODE, '--admin', `http://127.0.0.1:${await freePort()}`], code: 1, stderr: /^trellis config-dump: no Trellis admin API at http:\/\/127\.0\.0\.1:\d+: connection refused; is `trellis serve` running\?/ },
    { name: 'another HTTP server', args: async () => [NODE, '--admin', otherAddress], code: 1, stderr: /^trellis config-dump: http:\/\/127\.0\.0\.1:\d+ is not a Trellis admin API \(GET .*: HTTP 200, text\/html\)/ },
  ];
  it.each(cases)('$name: exit $code, one line, no stack trace', async ({ args, code, stderr }) => {
    const run = await trellis(['config-dump', ...(await args())]);
    expect(run.code, run.stderr).toBe(code);
    expect(run.stderr).toMatch(stderr);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stdout).toBe('');
  });
});
