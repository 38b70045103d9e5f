/**
 * The sidecar-injection admission webhook of `serve --source kubernetes
 * --webhook-address H:P`: HTTPS with a certificate from the mesh CA for the
 * webhook Service's DNS names (the API server checks it against the
 * configuration's caBundle), POST /inject answered by inject/admission.ts.
 *
 * Kept current, every check (5 s): the serving certificate is re-issued when
 * it is due or the roots moved (new handshakes get it at once), and the
 * MutatingWebhookConfiguration's caBundle is patched to the mesh's trust
 * bundle whenever that changes (a `trellis ca rotate` adds a root: the bundle
 * then trusts both, so the API server keeps trusting whichever certificate a
 * replica serves). Without RBAC to patch it, Trellis says so once and the
 * operator sets the caBundle (docs/kubernetes.md).
 */
import { createServer, type Server } from 'node:https';
import client from 'prom-client';
import type { Logger } from '../log.ts';
import { errorMessage, OperatorError } from '../errors.ts';
import type { IssuedCertificate } from '../ca/issued.ts';
import { admit, type AdmissionAnswer } from '../inject/admission.ts';
import { DEFAULT_INJECT_OPTIONS, type InjectOptions } from '../inject/options.ts';
import type { KubeMesh } from './kube-mesh.ts';
import type { MeshSecurity } from './security.ts';

export const WEBHOOK_PATH = '/inject';
export const DEFAULT_WEBHOOK_CONFIGURATION = 'trellis-sidecar-injector';
/** The Service deploy/kubernetes puts in front of the webhook port. */
export const DEFAULT_WEBHOOK_DNS_NAMES = ['trellis.trellis-system.svc', 'trellis.trellis-system.svc.cluster.local'];
/** An AdmissionReview of a Pod is a few KiB; etcd refuses objects past 1.5 MiB. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface WebhookOptions {
  /** H:P of the HTTPS listener */
  address: string;
  /** The names the API server calls it by (SANs of the serving certificate; 127.0.0.1 and localhost are always in). */
  dnsNames?: string[];
  /** The MutatingWebhookConfiguration whose caBundle Trellis keeps current ('' = leave it to the operator). */
  configurationName?: string;
  /** What injected pods get, beyond the mesh's roots and trust domain (images, xDS address, native sidecar...). */
  inject?: Partial<InjectOptions>;
  checkIntervalMs?: number;
}

export interface RunningWebhook {
  port: number;
  /** Re-issue the certificate if due and bring the caBundle up to date, now (also run every check). */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

export async function startInjectionWebhook(opts: WebhookOptions & { kube: KubeMesh; security: MeshSecurity; log: Logger; registry?: client.Registry }): Promise<RunningWebhook> {
  const { kube, security } = opts;
  const admissions = new client.Counter({
    name: 'trellis_webhook_admissions_total',
    help: 'Pods sent to the injection webhook, by outcome: injected, unchanged, refused, malformed',
    labelNames: ['outcome'] as const,
    registers: opts.registry ? [opts.registry] : [],
  });
  const log = opts.log.child({ component: 'webhook' });
  const dnsNames = opts.dnsNames ?? DEFAULT_WEBHOOK_DNS_NAMES;
  const issue = () => security.ca.issueServerCertificate({ dnsNames });
  let cert: IssuedCertificate = issue();
  const server: Server = createServer({ cert: cert.certificateChainPem, key: cert.privateKeyPem }, (req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url?.split('?')[0] !== WEBHOOK_PATH || req.method !== 'POST') {
      reply(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404, message: `the injection webhook answers POST ${WEBHOOK_PATH} only` });
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) {
        log.warn({ bytes: size }, 'admission request over the size limit refused');
        reply(413, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 413, message: `an AdmissionReview of more than ${MAX_BODY_BYTES} bytes` });
        return;
      }
      let answer: AdmissionAnswer;
      try {
        answer = admit(Buffer.concat(chunks).toString('utf8'), context());
      } catch (e) {
        // Our bug, not the pod's: the API server applies the failure policy.
        log.error({ err: errorMessage(e) }, 'admission request failed');
        reply(500, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 500, message: `trellis: internal error: ${errorMessage(e)}` });
        return;
      }
      admissions.inc({ outcome: answer.outcome });
      const line = { outcome: answer.outcome };
      if (answer.outcome === 'malformed') log.warn(line, `malformed admission request: ${answer.message}`);
      else if (answer.outcome === 'unchanged') log.debug(line, answer.message);
      else log.info(line, answer.message);
      reply(answer.httpStatus, answer.body);
    });
  });
  const context = () => ({
    options: { ...DEFAULT_INJECT_OPTIONS, ...opts.inject, caPem: security.ca.trustBundlePem(), trustDomain: security.ca.trustDomain },
    inMesh: (ns: string) => kube.source.inMesh(ns),
    services: (ns: string) => kube.source.objectsIn('Service', ns),
    ...(kube.listed ? {} : { notListed: 'Trellis has not yet listed the namespaces and Services of the cluster' }),
    meshNamespaces: kube.source.namespaceSelector ? `Trellis serves the namespaces labelled ${kube.source.namespaceSelector}` : 'Trellis serves every namespace',
  });

  const port = await listen(server, opts.address);
  const bundle = new CaBundleKeeper(kube, opts.configurationName ?? DEFAULT_WEBHOOK_CONFIGURATION, log);
  const refresh = async () => {
    if (security.ca.serverCertificateDue(cert)) {
      cert = issue();
      server.setSecureContext({ cert: cert.certificateChainPem, key: cert.privateKeyPem });
      log.info({ serial: cert.serial, root: cert.issuerFingerprint }, 'the webhook serving certificate was re-issued');
    }
    await bundle.update(security.ca.trustBundlePem());
  };
  await refresh();
  let checking = false;
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    refresh()
      .catch((e: unknown) => log.error({ err: errorMessage(e) }, 'webhook certificate check failed; retrying at the next check'))
      .finally(() => (checking = false));
  }, opts.checkIntervalMs ?? 5_000);
  timer.unref();
  log.info({ address: `${opts.address.replace(/:\d+$/, '')}:${port}`, path: WEBHOOK_PATH, dnsNames }, 'sidecar injection webhook serving');
  return {
    port,
    refresh,
    close: async () => {
      clearInterval(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Patches every webhook's clientConfig.caBundle of one
 * MutatingWebhookConfiguration to the trust bundle, when it differs. Read at
 * every check (one GET), not only when the bundle changes: a configuration
 * deleted and applied again comes back without a caBundle. A configuration
 * that is missing, or that Trellis may not read or patch, is reported once
 * (the operator then keeps the caBundle) and picked up once it is fixed.
 */
class CaBundleKeeper {
  private reported = '';
  constructor(
    private readonly kube: KubeMesh,
    private readonly name: string,
    private readonly log: Logger,
  ) {}

  async update(pem: string): Promise<void> {
    if (!this.name) return;
    const caBundle = Buffer.from(pem).toString('base64');
    const path = `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${this.name}`;
    try {
      const config = await this.kube.source.rest.get<{ webhooks?: Array<{ clientConfig?: { caBundle?: string } }> }>(path);
      const ops = (config.webhooks ?? []).flatMap((w, i) => (w.clientConfig?.caBundle === caBundle ? [] : [{ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle }]));
      if (ops.length > 0) {
        await this.kube.source.rest.patch(path, ops, 'json');
        this.log.info({ configuration: this.name, webhooks: ops.length }, 'the webhook configuration\'s caBundle is set to the mesh roots');
      }
      this.reported = '';
    } catch (e) {
      // A KubeApiError's HTTP status (rest.ts is not imported here: it loads the large Kubernetes client).
      const status = (e as { status?: unknown }).status;
      const why = status === 404
        ? `there is no MutatingWebhookConfiguration ${this.name} (apply deploy/kubernetes/40-webhook.yaml)`
        : status === 403
          ? `Trellis may not get and patch MutatingWebhookConfiguration ${this.name} (RBAC: deploy/kubernetes/10-rbac.yaml grants it); set its caBundle to the mesh roots by hand`
          : `cannot update MutatingWebhookConfiguration ${this.name}: ${errorMessage(e)}`;
      if (why !== this.reported) this.log.warn(why);
      this.reported = why;
    }
  }
}

function listen(server: Server, address: string): Promise<number> {
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at);
  const port = Number(address.slice(at + 1));
  if (at < 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new OperatorError(`--webhook-address ${address}: expected host:port`);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host.replace(/^\[|\]$/g, ''), () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}
