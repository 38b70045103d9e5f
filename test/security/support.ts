/**
 * Plumbing for the security suite (test/security/*.test.ts): a real
 * `trellis serve` (startControlPlane) on the demo mesh with a state dir, so the
 * xDS port serves TLS from the mesh root; raw ADS clients over real gRPC TLS
 * (trusting only the mesh's trust bundle) or over the opt-in plaintext
 * listener; workload tokens from the server's own key; and readers for SDS
 * secrets and Prometheus text.
 */
import { execFile, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { startControlPlane, type RunningControlPlane, type ControlPlaneOptions } from '../../src/runtime/control-plane.ts';
import { TOKEN_METADATA_KEY } from '../../src/identity/verifier.ts';
import { TRUST_BUNDLE_SECRET, WORKLOAD_CERTIFICATE_SECRET } from '../../src/translate/names.ts';
import { TypeUrl } from '../../src/xds/type-urls.ts';
import type { NodeInfo } from '../../src/xds/wire.ts';
import { XdsTestClient, type SotwResponseView, type SotwStream } from '../support/ads-client.ts';
import { metric } from '../support/conformance.ts';

export { metric, TypeUrl, TRUST_BUNDLE_SECRET, WORKLOAD_CERTIFICATE_SECRET };
export const { Cluster: CDS, Listener: LDS, Secret: SDS } = TypeUrl;

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DEMO = path.join(REPO, 'examples/demo');
export const TRELLIS = path.join(REPO, 'bin/trellis.js');
export const TRUST_DOMAIN = 'trellis.local';
export const CONTROL_PLANE_ID = `spiffe://${TRUST_DOMAIN}/ns/trellis-system/sa/trellis`;

/** SPIFFE ID of a demo service account (also its SDS secret name). */
export const spiffe = (sa: string) => `spiffe://${TRUST_DOMAIN}/ns/demo/sa/${sa}`;

/** An Envoy sidecar of a demo pod: node id "demo/<pod>", user agent "envoy". */
export const sidecar = (pod: string, id = `demo/${pod}`): NodeInfo => ({ id, cluster: pod, user_agent_name: 'envoy', locality: { zone: 'z1' } });

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `trellis-sec-${prefix}-`));
}

/** A copy of examples/demo the test may edit. */
export function demoCopy(): string {
  const dir = tempDir('mesh');
  cpSync(DEMO, dir, { recursive: true });
  return dir;
}

export function tokenMetadata(token: string | undefined): grpc.Metadata {
  const md = new grpc.Metadata();
  if (token !== undefined) md.set(TOKEN_METADATA_KEY, token);
  return md;
}

export interface SecureHarness {
  server: RunningControlPlane;
  stateDir: string;
  adminAddress: string;
  /** The trust bundle at start (the root every bootstrap trusts). */
  rootPem: string;
  /** A client on its own TLS connection to the xDS port, trusting `caPem` (default: the root). */
  tlsClient(caPem?: string): XdsTestClient;
  /** A client on the opt-in plaintext listener. */
  plaintextClient(): XdsTestClient;
  /** A token for the demo service account `sa`, bound to `nodeId`, signed by this server's key. */
  token(sa: string, nodeId: string): string;
  metrics(): Promise<string>;
  json<T>(p: string): Promise<T>;
  close(): Promise<void>;
}

export const quietLog = () => pino({ level: process.env.TRELLIS_LOG_LEVEL ?? 'silent' });

export async function startSecure(opts: Partial<ControlPlaneOptions> = {}): Promise<SecureHarness> {
  const ownState = opts.stateDir === undefined;
  const stateDir = opts.stateDir ?? tempDir('state');
  const server = await startControlPlane({
    xdsAddress: '127.0.0.1:0',
    adminAddress: '127.0.0.1:0',
    sourceDir: DEMO,
    plaintextXdsAddress: '127.0.0.1:0',
    log: quietLog(),
    ...opts,
    stateDir,
  });
  const clients: XdsTestClient[] = [];
  const adminAddress = `127.0.0.1:${server.adminPort}`;
  const rootPem = server.security!.ca.trustBundlePem();
  const keep = (c: XdsTestClient) => (clients.push(c), c);
  return {
    server,
    stateDir,
    adminAddress,
    rootPem,
    tlsClient(caPem = rootPem) {
      // The server's certificate names localhost and 127.0.0.1; the override keeps the check explicit.
      const creds = grpc.credentials.createSsl(Buffer.from(caPem));
      return keep(new XdsTestClient(`127.0.0.1:${server.xdsPort}`, { 'grpc.ssl_target_name_override': 'localhost', 'grpc.use_local_subchannel_pool': 1 }, creds));
    },
    plaintextClient() {
      return keep(new XdsTestClient(`127.0.0.1:${server.plaintextPort}`, { 'grpc.use_local_subchannel_pool': 1 }));
    },
    token(sa, nodeId) {
      return server.security!.tokens.issue({ spiffeId: spiffe(sa), nodeId });
    },
    async metrics() {
      const res = await fetch(`http://${adminAddress}/metrics`, { signal: AbortSignal.timeout(5000) });
      return res.text();
    },
    async json<T>(p: string) {
      const res = await fetch(`http://${adminAddress}${p}`, { signal: AbortSignal.timeout(5000) });
      return (await res.json()) as T;
    },
    async close() {
      for (const c of clients) c.close();
      await server.stop();
      if (ownState) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

// --- SDS responses -----------------------------------------------------------

export interface IdentitySecret {
  name: string;
  chainPem: string;
  keyPem: string;
  cert: X509Certificate;
}

type Res = SotwResponseView['resources'][number];
const secretValue = (r: Res) => r.value as Record<string, any>; // decoded proto JSON

/** The identity (tls_certificate) secrets in an SDS response. */
export function identitySecrets(res: SotwResponseView): IdentitySecret[] {
  return res.resources
    .map(secretValue)
    .filter((v) => v.tls_certificate)
    .map((v) => {
      const chainPem = String(v.tls_certificate.certificate_chain.inline_string);
      return { name: String(v.name), chainPem, keyPem: String(v.tls_certificate.private_key.inline_string), cert: new X509Certificate(chainPem) };
    });
}

/** The trust bundle in an SDS response, split into its roots (undefined if absent). */
export function bundleRoots(res: SotwResponseView): X509Certificate[] | undefined {
  const v = res.resources.map(secretValue).find((x) => x.name === TRUST_BUNDLE_SECRET);
  if (!v) return undefined;
  return pemCertificates(String(v.validation_context.trusted_ca.inline_string));
}

export function pemCertificates(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((b) => new X509Certificate(b));
}

/** URI SANs of a certificate ("URI:spiffe://..." entries of subjectAltName). */
export function uriSans(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
}

/** Subscribes SDS on a SotW stream and ACKs the first answer. */
export async function subscribeSds(s: SotwStream, node: NodeInfo | undefined, names: string[], ms = 3000): Promise<SotwResponseView> {
  s.send({ node, type_url: SDS, resource_names: names });
  const r = await s.next(ms);
  if (r.type_url !== SDS) throw new Error(`expected SDS, got ${r.type_url}`);
  s.ack(r, names);
  return r;
}

/**
 * Reads responses (ACKing SDS ones with `names`) until one satisfies `pred`,
 * or throws after `ms`.
 */
export async function nextSdsWhere(s: SotwStream, names: string[], pred: (r: SotwResponseView) => boolean, ms = 5000): Promise<SotwResponseView> {
  const end = Date.now() + ms;
  for (;;) {
    const left = end - Date.now();
    if (left <= 0) throw new Error(`no matching SDS response within ${ms} ms`);
    const r = await s.next(left);
    if (r.type_url !== SDS) continue;
    s.ack(r, names);
    if (pred(r)) return r;
  }
}

/** Everything a stream received, as text (for "no private key here" checks). */
export function receivedText(s: SotwStream): string {
  return JSON.stringify(s.received);
}

// --- the CLI -----------------------------------------------------------------

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * `node bin/trellis.js ...args`, asynchronously (the server under test runs in
 * this process and must keep answering), killed after `timeoutMs`.
 */
export function trellis(args: string[], timeoutMs = 20_000): Promise<CliResult> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [TRELLIS, ...args], { cwd: REPO, timeout: timeoutMs, env: { ...process.env, TRELLIS_LOG_LEVEL: 'warn' } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

/** `trellis serve` until it logs "trellis serving" (then SIGTERM) or exits; its output. */
export function serveUntilServing(args: string[]): Promise<{ serving: boolean; code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TRELLIS, ...args], { cwd: REPO, env: { ...process.env, TRELLIS_LOG_LEVEL: 'info', TRELLIS_LOG_FORMAT: 'json' } });
    let output = '';
    let serving = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const onData = (b: Buffer) => {
      output += b.toString();
      if (!serving && output.includes('"trellis serving"')) {
        serving = true;
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ serving, code, output });
    });
  });
}
