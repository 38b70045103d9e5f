/**
 * One SDS load-generator process of bench/sds-reconnect.ts: TLS ADS streams,
 * one per workload node id, each presenting its workload token, subscribing
 * SDS (its own certificate + the trust bundle) and CDS (wildcard) and ACKing
 * like an Envoy. A stream that ends is reopened at once (waitForReady: the
 * call waits for the channel's reconnect, backoff 100 ms .. 1 s).
 *
 * A stream "holds a valid secret" when a response on the current stream
 * instance gave it a certificate whose URI SAN is its SPIFFE ID, that
 * verifies against a root of the bundle it received, is within its validity
 * period, and matches the private key sent with it. It is "in sync" when it
 * also received its clusters (a CDS response) on that stream instance.
 *
 * IPC (parent → child): {cmd:'phase', phase} — later valid secrets count for
 * that phase (the parent starts phase 1 right before it stops the server);
 * {cmd:'report'} → {event:'report', counts, validAt}; {cmd:'stop'}.
 * Child → parent: {event:'ready'} once every channel is created.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { decodeAnyValue, encodeSotwRequest } from '../src/xds/wire.ts';
import { messageType } from '../src/xds/protos.ts';
import { TypeUrl } from '../src/xds/type-urls.ts';
import { TOKEN_METADATA_KEY } from '../src/identity/verifier.ts';
import { TRUST_BUNDLE_SECRET, WORKLOAD_CERTIFICATE_SECRET } from '../src/translate/names.ts';
import { now } from './ipc.ts';

export interface SdsClientConfig {
  address: string;
  rootPem: string;
  channels: number;
  streams: Array<{ nodeId: string; spiffeId: string; token: string }>;
}

const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const id = (b: Buffer) => b;

let phase = 0;

class Workload {
  /** per phase: when the first valid secret arrived on a stream opened in that phase */
  readonly validAt = new Map<number, number>();
  /** per phase: when a stream opened in that phase first held both config (a CDS response) and a valid secret */
  readonly syncedAt = new Map<number, number>();
  invalid = 0;
  reconnects = 0;
  /** for diagnosis: what the current stream instance has seen */
  seen = { responses: 0, sds: 0, names: [] as string[], status: '' };
  private call?: grpc.ClientDuplexStream<Buffer, Buffer>;

  constructor(
    private readonly channel: grpc.Client,
    private readonly spec: SdsClientConfig['streams'][number],
  ) {}

  get nodeId(): string {
    return this.spec.nodeId;
  }

  open(): void {
    const openedIn = phase;
    const md = new grpc.Metadata();
    md.set(TOKEN_METADATA_KEY, this.spec.token);
    md.setOptions({ waitForReady: true });
    const call = this.channel.makeBidiStreamRequest(ADS, id, id, md);
    this.call = call;
    const names = [WORKLOAD_CERTIFICATE_SECRET, TRUST_BUNDLE_SECRET];
    let roots: X509Certificate[] = [];
    let gotValid = false;
    let gotConfig = false;
    const synced = () => {
      if (gotValid && gotConfig && !this.syncedAt.has(openedIn)) this.syncedAt.set(openedIn, now());
    };
    this.seen = { responses: 0, sds: 0, names: [], status: '' };
    call.on('data', (b: Buffer) => {
      const r = decodeResponse(b);
      this.seen.responses++;
      if (r.type_url === TypeUrl.Secret) {
        this.seen.sds++;
        this.seen.names.push(...r.resources.map((x) => String(x.value.name)));
      }
      call.write(encodeSotwRequest({ type_url: r.type_url, version_info: r.version_info, response_nonce: r.nonce, resource_names: r.type_url === TypeUrl.Secret ? names : [] }));
      if (r.type_url === TypeUrl.Cluster) {
        gotConfig = true;
        synced();
      }
      if (r.type_url !== TypeUrl.Secret) return;
      let cert: { chain: string; key: string } | undefined;
      for (const res of r.resources) {
        const v = res.value as Record<string, any>;
        if (v.name === TRUST_BUNDLE_SECRET) roots = rootsOf(String(v.validation_context.trusted_ca.inline_string));
        else if (v.name === WORKLOAD_CERTIFICATE_SECRET && v.tls_certificate) cert = { chain: String(v.tls_certificate.certificate_chain.inline_string), key: String(v.tls_certificate.private_key.inline_string) };
      }
      if (!cert || gotValid) return;
      if (this.valid(cert, roots)) {
        gotValid = true;
        if (!this.validAt.has(openedIn)) this.validAt.set(openedIn, now());
        synced();
      } else this.invalid++;
    });
    const reopen = () => {
      if (this.call !== call) return;
      this.call = undefined;
      this.reconnects++;
      if (!stopping) setImmediate(() => this.open());
    };
    call.on('status', (st: grpc.StatusObject) => {
      this.seen.status = `${st.code} ${st.details}`;
      reopen();
    });
    call.on('error', reopen);
    // Like an Envoy: SDS first (its listeners and clusters name the secrets), then CDS.
    call.write(encodeSotwRequest({ node: { id: this.spec.nodeId, cluster: 'bench', user_agent_name: 'envoy' }, type_url: TypeUrl.Secret, resource_names: names }));
    call.write(encodeSotwRequest({ type_url: TypeUrl.Cluster, resource_names: [] }));
  }

  private valid(cert: { chain: string; key: string }, roots: X509Certificate[]): boolean {
    try {
      const x = new X509Certificate(cert.chain);
      const t = Date.now();
      if (x.subjectAltName !== `URI:${this.spec.spiffeId}`) return false;
      if (Date.parse(x.validFrom) > t || Date.parse(x.validTo) < t) return false;
      if (!roots.some((r) => x.checkIssued(r) && x.verify(r.publicKey))) return false;
      return x.checkPrivateKey(createPrivateKey(cert.key));
    } catch {
      return false;
    }
  }

  close(): void {
    this.call?.cancel();
  }
}

function pemCertificates(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((b) => new X509Certificate(b));
}

/**
 * The client shares the cores with the server it measures (at 10,000
 * streams it used more CPU than the server): the trust bundle, the same for
 * every stream, is parsed once per content, and only SDS resources are
 * decoded (a CDS response only has to arrive).
 */
const bundles = new Map<string, X509Certificate[]>();
function rootsOf(pem: string): X509Certificate[] {
  let roots = bundles.get(pem);
  if (!roots) bundles.set(pem, (roots = pemCertificates(pem)));
  return roots;
}

function decodeResponse(bytes: Uint8Array): { version_info: string; type_url: string; nonce: string; resources: Array<{ value: Record<string, any> }> } {
  const msg = messageType('envoy.service.discovery.v3.DiscoveryResponse').decode(bytes) as unknown as {
    version_info: string;
    type_url: string;
    nonce: string;
    resources: Array<{ type_url: string; value: Uint8Array }>;
  };
  const resources = msg.type_url === TypeUrl.Secret ? msg.resources.map((a) => ({ value: decodeAnyValue(a.type_url, a.value) })) : [];
  return { version_info: msg.version_info, type_url: msg.type_url, nonce: msg.nonce, resources };
}

let stopping = false;
let workloads: Workload[] = [];
let channels: grpc.Client[] = [];

function start(cfg: SdsClientConfig): void {
  const creds = grpc.credentials.createSsl(Buffer.from(cfg.rootPem));
  channels = Array.from(
    { length: cfg.channels },
    () =>
      new grpc.Client(cfg.address, creds, {
        'grpc.ssl_target_name_override': 'localhost',
        'grpc.use_local_subchannel_pool': 1, // one HTTP/2 connection per channel
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
      }),
  );
  workloads = cfg.streams.map((s, i) => new Workload(channels[i % channels.length]!, s));
  for (const w of workloads) w.open();
  process.send!({ event: 'ready' });
}

process.on('message', (raw: unknown) => {
  const msg = raw as { cmd: 'start'; config: SdsClientConfig } | { cmd: 'phase'; phase: number } | { cmd: 'report' } | { cmd: 'stop' };
  switch (msg.cmd) {
    case 'start':
      start(msg.config);
      return;
    case 'phase':
      phase = msg.phase;
      process.send!({ event: 'phase', phase });
      return;
    case 'report':
      process.send!({
        event: 'report',
        validAt: workloads.map((w) => Object.fromEntries(w.validAt)),
        syncedAt: workloads.map((w) => Object.fromEntries(w.syncedAt)),
        invalid: workloads.reduce((n, w) => n + w.invalid, 0),
        reconnects: workloads.reduce((n, w) => n + w.reconnects, 0),
        cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
        missing: workloads.filter((w) => !w.validAt.has(phase)).slice(0, 5).map((w) => ({ node: w.nodeId, ...w.seen })),
      });
      return;
    case 'stop':
      stopping = true;
      for (const w of workloads) w.close();
      for (const c of channels) c.close();
      setTimeout(() => process.exit(0), 200).unref();
      return;
  }
});
process.on('disconnect', () => process.exit(0));
