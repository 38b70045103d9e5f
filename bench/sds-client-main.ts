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
 * What each sidecar costs this process, and why that is what an Envoy does
 * (the clients share the 2 cores with the server they measure, so harness
 * waste shows up as server latency):
 *  - one HTTP/2 stream on a shared TLS connection (--channels connections per
 *    process; an Envoy holds one connection, but the handshake is per
 *    connection either way, so packing streams saves only the handshakes);
 *  - every response's envelope decoded and ACKed; CDS resources are not
 *    decoded (an Envoy would, but this bench measures SDS: it only needs to
 *    know the clusters arrived);
 *  - SDS: the first time a workload sees a secret, it is decoded and
 *    checked in full (X509 parse, SAN, validity, chain to the bundle,
 *    private key). After that, a response whose Secret resources are
 *    byte-for-byte the ones already checked is taken as the same secret
 *    without parsing again: an Envoy does the same (SdsApi::onConfigUpdate
 *    hashes the Secret and changes nothing when the hash is unchanged), which
 *    is exactly the restart case, where the new server restores and sends
 *    the same certificates (ca/leaf-store.ts). A different certificate is
 *    parsed and checked in full again.
 * The trust bundle, the same for every stream, is parsed once per content.
 * Stack traces are off: grpc-js builds an Error per ended call, and a
 * reconnect storm ends thousands at once (an Envoy builds none).
 *
 * IPC (parent → child): {cmd:'phase', phase} — later valid secrets count for
 * that phase (the parent starts phase 1 right before it stops the server);
 * {cmd:'progress'} → {event:'progress', valid, synced, invalid, cpuMs} counts in the
 * current phase (cheap: polled while waiting); {cmd:'report'} → {event:'report',
 * validAt, syncedAt, ...} per stream (once, at the end); {cmd:'stop'}.
 * Child → parent: {event:'ready'} once every channel is created.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
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
  /** a V8 CPU profile of this process from phase 1 (the restart) until stop, written here */
  profilePath?: string;
}

Error.stackTraceLimit = 0;

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
  seen = { responses: 0, sds: 0, status: '' };
  /** The workload certificate (its Secret's bytes) last found valid, and its notAfter. */
  private cert?: { bytes: Buffer; validTo: number };
  /** The trust bundle (its Secret's bytes) last received, and its roots. */
  private bundle?: { bytes: Buffer; roots: X509Certificate[] };
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
    let gotValid = false;
    let gotConfig = false;
    const synced = () => {
      if (gotValid && gotConfig && !this.syncedAt.has(openedIn)) this.syncedAt.set(openedIn, now());
    };
    this.seen = { responses: 0, sds: 0, status: '' };
    call.on('data', (b: Buffer) => {
      const r = decodeEnvelope(b);
      this.seen.responses++;
      if (r.type_url === TypeUrl.Secret) this.seen.sds++;
      call.write(encodeSotwRequest({ type_url: r.type_url, version_info: r.version_info, response_nonce: r.nonce, resource_names: r.type_url === TypeUrl.Secret ? names : [] }));
      if (r.type_url === TypeUrl.Cluster) {
        gotConfig = true;
        synced();
      }
      if (r.type_url !== TypeUrl.Secret || gotValid) return;
      const verdict = this.checkSecrets(r.resources);
      if (verdict === undefined) return; // no workload certificate in this response
      if (verdict) {
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

  /**
   * Whether an SDS response gives this workload a valid certificate;
   * undefined when it carries none. A resource byte-equal to one already
   * checked is that same secret (see the file comment) and is not decoded
   * again; a new trust bundle makes the certificate be checked again.
   */
  private checkSecrets(resources: readonly Uint8Array[]): boolean | undefined {
    let certBytes: Uint8Array | undefined;
    for (const bytes of resources) {
      if (this.bundle && Buffer.compare(bytes, this.bundle.bytes) === 0) continue;
      if (this.cert && Buffer.compare(bytes, this.cert.bytes) === 0) {
        certBytes = bytes;
        continue;
      }
      const v = decodeAnyValue(TypeUrl.Secret, bytes) as Record<string, any>;
      if (v.name === TRUST_BUNDLE_SECRET) {
        this.bundle = bundleOf(bytes, String(v.validation_context.trusted_ca.inline_string));
        this.cert = undefined;
      } else if (v.name === WORKLOAD_CERTIFICATE_SECRET && v.tls_certificate) certBytes = bytes;
    }
    if (!certBytes) return undefined;
    if (this.cert && Buffer.compare(certBytes, this.cert.bytes) === 0) return Date.now() < this.cert.validTo;
    const v = decodeAnyValue(TypeUrl.Secret, certBytes) as Record<string, any>;
    const validTo = this.valid({ chain: String(v.tls_certificate.certificate_chain.inline_string), key: String(v.tls_certificate.private_key.inline_string) }, this.bundle?.roots ?? []);
    if (validTo === undefined) return false;
    this.cert = { bytes: Buffer.from(certBytes), validTo };
    return true;
  }

  /** The certificate's notAfter (ms) when it is valid for this workload, else undefined. */
  private valid(cert: { chain: string; key: string }, roots: X509Certificate[]): number | undefined {
    try {
      const x = new X509Certificate(cert.chain);
      const t = Date.now();
      const validTo = Date.parse(x.validTo);
      if (x.subjectAltName !== `URI:${this.spec.spiffeId}`) return undefined;
      if (Date.parse(x.validFrom) > t || validTo < t) return undefined;
      if (!roots.some((r) => x.checkIssued(r) && x.verify(r.publicKey))) return undefined;
      return x.checkPrivateKey(createPrivateKey(cert.key)) ? validTo : undefined;
    } catch {
      return undefined;
    }
  }

  close(): void {
    this.call?.cancel();
  }
}

function pemCertificates(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((b) => new X509Certificate(b));
}

/** Trust bundles by PEM: the same for every stream, parsed once per content and held once. */
const bundles = new Map<string, { bytes: Buffer; roots: X509Certificate[] }>();
function bundleOf(bytes: Uint8Array, pem: string): { bytes: Buffer; roots: X509Certificate[] } {
  let b = bundles.get(pem);
  if (!b) bundles.set(pem, (b = { bytes: Buffer.from(bytes), roots: pemCertificates(pem) }));
  return b;
}

/** The response's envelope; SDS resources as their raw Any values (decoded only when new: checkSecrets). */
function decodeEnvelope(bytes: Uint8Array): { version_info: string; type_url: string; nonce: string; resources: Uint8Array[] } {
  const msg = messageType('envoy.service.discovery.v3.DiscoveryResponse').decode(bytes) as unknown as {
    version_info: string;
    type_url: string;
    nonce: string;
    resources: Array<{ type_url: string; value: Uint8Array }>;
  };
  const resources = msg.type_url === TypeUrl.Secret ? msg.resources.map((a) => a.value) : [];
  return { version_info: msg.version_info, type_url: msg.type_url, nonce: msg.nonce, resources };
}

let stopping = false;
let profilePath: string | undefined;
let profiler: Session | undefined;
let workloads: Workload[] = [];
let channels: grpc.Client[] = [];

function start(cfg: SdsClientConfig): void {
  profilePath = cfg.profilePath;
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
  const msg = raw as { cmd: 'start'; config: SdsClientConfig } | { cmd: 'phase'; phase: number } | { cmd: 'progress' } | { cmd: 'report' } | { cmd: 'stop' };
  switch (msg.cmd) {
    case 'start':
      start(msg.config);
      return;
    case 'phase':
      phase = msg.phase;
      if (phase === 1 && profilePath && !profiler) {
        profiler = new Session();
        profiler.connect();
        profiler.post('Profiler.enable');
        profiler.post('Profiler.start');
      }
      process.send!({ event: 'phase', phase });
      return;
    case 'progress':
      process.send!({
        event: 'progress',
        valid: workloads.reduce((n, w) => n + (w.validAt.has(phase) ? 1 : 0), 0),
        synced: workloads.reduce((n, w) => n + (w.syncedAt.has(phase) ? 1 : 0), 0),
        invalid: workloads.reduce((n, w) => n + w.invalid, 0),
        cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
      });
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
      if (profiler && profilePath) {
        const path = profilePath;
        profiler.post('Profiler.stop', (err, res) => {
          if (!err) writeFileSync(path, JSON.stringify(res.profile));
          process.exit(0);
        });
        return;
      }
      setTimeout(() => process.exit(0), 200).unref();
      return;
  }
});
process.on('disconnect', () => process.exit(0));
