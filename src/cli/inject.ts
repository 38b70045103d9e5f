/**
 * `trellis inject [-f FILE]... [options]`: rewrites workload manifests (Pod,
 * Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob; multi-
 * document YAML from files or stdin) so that their pods run in the mesh, and
 * prints the result. Everything else passes through unchanged, comments kept.
 *
 * What a pod gets (docs/kubernetes.md):
 *   - volume `trellis-token`: a projected service-account token for audience
 *     `trellis`, bound to the pod (TokenReview proves it to Trellis);
 *   - init container `trellis-iptables` (transparent mode; root, NET_ADMIN and
 *     NET_RAW, nothing else): outbound TCP → 15001 except the proxy's own
 *     traffic (uid 1337), loopback, DNS and the xDS port; inbound TCP → the
 *     sidecar's one inbound listener, 15006 (original_dst: one filter chain
 *     per targetPort), except the sidecar's own ports, non-HTTP service ports
 *     and the node's probes (from status.hostIP);
 *   - init container `trellis-bootstrap` (the Trellis image, uid 1337):
 *     `trellis bootstrap --token-file` writes the Envoy bootstrap, with the
 *     token and the mesh root, into the in-memory volume `trellis-bootstrap`;
 *   - the sidecar `trellis-proxy` (envoyproxy/envoy, uid 1337, no
 *     capabilities, read-only root): a native sidecar (an init container with
 *     restartPolicy Always: up before the application, down after it), or a
 *     plain container with --native-sidecar=false (clusters before 1.29).
 * Injecting twice changes nothing; annotation `trellis.io/inject: "false"`
 * on a pod (template) opts it out; hostNetwork pods are never injected.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { isMap, isSeq, parseDocument, type Document } from 'yaml';
import { appProtocolOf } from '../model/kinds/service.ts';
import { ADMIN_PORT, BOOTSTRAP_DIR, BOOTSTRAP_PATH, INBOUND_PORT, OUTBOUND_PORT, PROXY_PORTS, PROXY_UID, TOKEN_DIR, TOKEN_FILE_NAME, TOKEN_PATH } from '../translate/sidecar.ts';
import { splitHostPort } from '../admin/http.ts';
import { parseArgs, UsageError } from './args.ts';

export const ENVOY_IMAGE = 'envoyproxy/envoy:v1.38.3';
export const INJECTED_ANNOTATION = 'trellis.io/injected';
export const INJECT_ANNOTATION = 'trellis.io/inject';
export const NAMES = {
  proxy: 'trellis-proxy',
  bootstrap: 'trellis-bootstrap',
  iptables: 'trellis-iptables',
  tokenVolume: 'trellis-token',
  bootstrapVolume: 'trellis-bootstrap',
  tmpVolume: 'trellis-tmp',
} as const;

export interface InjectOptions {
  mode: 'transparent' | 'explicit';
  /** Where sidecars reach Trellis (default trellis.trellis-system.svc:18000). */
  xdsAddress: string;
  /** The mesh root(s), PEM; undefined = plaintext xDS (no secrets). */
  caPem?: string;
  trustDomain: string;
  trellisImage: string;
  envoyImage: string;
  tokenAudience: string;
  tokenExpirationSeconds: number;
  nativeSidecar: boolean;
  /** Inbound ports that reach the application directly, never the sidecar (beyond the non-HTTP service ports in the input). */
  excludeInboundPorts: readonly number[];
  excludeOutboundPorts: readonly number[];
  excludeOutboundCidrs: readonly string[];
}

export const DEFAULT_INJECT_OPTIONS: InjectOptions = {
  mode: 'transparent',
  xdsAddress: 'trellis.trellis-system.svc:18000',
  trustDomain: 'cluster.local',
  trellisImage: 'trellis:dev',
  envoyImage: ENVOY_IMAGE,
  tokenAudience: 'trellis',
  // Envoy reads the token once, when the init container writes it into the
  // bootstrap: it must outlive the streams that present it (docs/kubernetes.md).
  tokenExpirationSeconds: 30 * 24 * 3600,
  nativeSidecar: true,
  excludeInboundPorts: [],
  excludeOutboundPorts: [],
  excludeOutboundCidrs: [],
};

export interface InjectResult {
  yaml: string;
  /** "Kind ns/name" of each workload injected */
  injected: string[];
  skipped: Array<{ workload: string; reason: string }>;
  warnings: string[];
}

type Json = Record<string, any>;

/** Where each kind keeps its pod template: the path of the pod's metadata and spec. */
const POD_PATHS: Record<string, { meta: string[]; spec: string[] }> = {
  Pod: { meta: ['metadata'], spec: ['spec'] },
  Deployment: { meta: ['spec', 'template', 'metadata'], spec: ['spec', 'template', 'spec'] },
  StatefulSet: { meta: ['spec', 'template', 'metadata'], spec: ['spec', 'template', 'spec'] },
  DaemonSet: { meta: ['spec', 'template', 'metadata'], spec: ['spec', 'template', 'spec'] },
  ReplicaSet: { meta: ['spec', 'template', 'metadata'], spec: ['spec', 'template', 'spec'] },
  Job: { meta: ['spec', 'template', 'metadata'], spec: ['spec', 'template', 'spec'] },
  CronJob: { meta: ['spec', 'jobTemplate', 'spec', 'template', 'metadata'], spec: ['spec', 'jobTemplate', 'spec', 'template', 'spec'] },
};

const get = (o: unknown, path: readonly string[]): any => path.reduce((v: any, k) => (v && typeof v === 'object' ? v[k] : undefined), o);

export function injectManifest(text: string, o: InjectOptions): InjectResult {
  // One chunk per document, so that documents left alone are printed exactly as written.
  const chunks = splitDocuments(text);
  const docs = chunks.map((c) => parseDocument(c));
  const result: InjectResult = { yaml: '', injected: [], skipped: [], warnings: [] };
  const changed = new Set<number>();
  const objects = docs.map((d, i) => {
    if (d.errors.length > 0) throw new UsageError(`invalid YAML in document ${i + 1}: ${d.errors[0]!.message}`);
    return d.toJS() as unknown;
  });
  const services = objects.filter((x): x is Json => isObject(x) && x.kind === 'Service' && (x.apiVersion === 'v1' || x.apiVersion === undefined));
  for (let i = 0; i < docs.length; i++) {
    const obj = objects[i];
    if (!isObject(obj) || typeof obj.kind !== 'string' || !POD_PATHS[obj.kind]) continue;
    const doc = docs[i]!;
    const where = POD_PATHS[obj.kind]!;
    const name = `${obj.kind} ${obj.metadata?.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata?.name ?? '(unnamed)'}`;
    const meta = (get(obj, where.meta) ?? {}) as Json;
    const spec = get(obj, where.spec) as Json | undefined;
    if (!isObject(spec) || !Array.isArray(spec.containers)) {
      result.skipped.push({ workload: name, reason: 'no pod spec with containers' });
      continue;
    }
    const annotations = (meta.annotations ?? {}) as Record<string, unknown>;
    const containerNames = [...(spec.containers as Json[]), ...((spec.initContainers ?? []) as Json[])].map((c) => c?.name);
    if (annotations[INJECTED_ANNOTATION] !== undefined || containerNames.includes(NAMES.proxy)) {
      result.skipped.push({ workload: name, reason: 'already injected' });
      continue;
    }
    if (String(annotations[INJECT_ANNOTATION]) === 'false') {
      result.skipped.push({ workload: name, reason: `annotation ${INJECT_ANNOTATION}: "false"` });
      continue;
    }
    if (spec.hostNetwork === true) {
      result.skipped.push({ workload: name, reason: "hostNetwork: the redirect would rewrite the node's own traffic" });
      continue;
    }
    const namespace = typeof obj.metadata?.namespace === 'string' ? obj.metadata.namespace : undefined;
    const labels = (meta.labels ?? {}) as Record<string, string>;
    const excludeInbound = o.mode === 'transparent' ? inboundExclusions(name, namespace, labels, spec, services, o, result.warnings) : [];
    const cluster = labels.app ?? labels['app.kubernetes.io/name'] ?? obj.metadata?.name ?? 'workload';
    const parts = sidecarParts(o, excludeInbound, String(cluster));

    // Edit the document in place (comments and formatting elsewhere are kept).
    doc.setIn([...where.meta, 'annotations', INJECTED_ANNOTATION], 'true');
    if (annotations['kubectl.kubernetes.io/default-container'] === undefined && typeof spec.containers[0]?.name === 'string') {
      doc.setIn([...where.meta, 'annotations', 'kubectl.kubernetes.io/default-container'], spec.containers[0].name);
    }
    const first = o.nativeSidecar ? [...parts.initContainers, parts.proxy] : parts.initContainers;
    prepend(doc, [...where.spec, 'initContainers'], first);
    if (!o.nativeSidecar) append(doc, [...where.spec, 'containers'], [parts.proxy]);
    append(doc, [...where.spec, 'volumes'], parts.volumes);
    result.injected.push(name);
    changed.add(i);
  }
  result.yaml = chunks
    .map((c, i) => (changed.has(i) ? docs[i]!.toString({ lineWidth: 0 }) : c))
    .filter((t) => t.trim() !== '')
    .map((t) => (t.endsWith('\n') ? t : `${t}\n`))
    .join('---\n');
  return result;
}

/** Splits a YAML stream at its `---` lines (the marker itself dropped). */
export function splitDocuments(text: string): string[] {
  return text.split(/^---[ \t]*(?:#.*)?$\r?\n?/m);
}

function isObject(x: unknown): x is Json {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

function prepend(doc: Document, path: string[], items: Json[]): void {
  const node = doc.getIn(path, true);
  if (isSeq(node)) node.items.unshift(...items.map((x) => doc.createNode(x)));
  else doc.setIn(path, doc.createNode(items));
}

function append(doc: Document, path: string[], items: Json[]): void {
  const node = doc.getIn(path, true);
  if (isSeq(node)) node.items.push(...items.map((x) => doc.createNode(x)));
  else if (node === undefined || node === null || (isMap(node) && node.items.length === 0)) doc.setIn(path, doc.createNode(items));
  else throw new UsageError(`${path.join('.')} is not a list`);
}

/**
 * The inbound ports that must not reach the sidecar: every inbound
 * connection is redirected to its `inbound` listener (one filter chain per
 * targetPort of the pod's HTTP service ports, wherever the Service is
 * defined; any other port is passed through to the application as plain
 * TCP), except the targetPorts of the non-HTTP ports of the Services in the
 * input that select this pod, which the mesh does not proxy (they keep the
 * caller's address), and --exclude-inbound-ports.
 */
function inboundExclusions(
  workload: string,
  namespace: string | undefined,
  labels: Record<string, string>,
  spec: Json,
  services: Json[],
  o: InjectOptions,
  warnings: string[],
): number[] {
  const http = new Set<number>();
  const tcp = new Set<number>();
  const named = new Map<string, number>();
  for (const c of spec.containers as Json[]) for (const p of (c?.ports ?? []) as Json[]) if (typeof p?.name === 'string' && Number.isInteger(p.containerPort)) named.set(p.name, p.containerPort);
  for (const s of services) {
    const selector = s.spec?.selector as Record<string, string> | undefined;
    const sameNamespace = (s.metadata?.namespace ?? undefined) === namespace;
    if (!selector || Object.keys(selector).length === 0 || !sameNamespace) continue;
    if (!Object.entries(selector).every(([k, v]) => labels[k] === v)) continue;
    for (const p of (s.spec?.ports ?? []) as Json[]) {
      if ((p.protocol ?? 'TCP') !== 'TCP' || !Number.isInteger(p.port)) continue;
      const from = `Service ${s.metadata?.name} port ${p.port}`;
      const target = p.targetPort === undefined ? p.port : typeof p.targetPort === 'number' ? p.targetPort : named.get(String(p.targetPort));
      if (target === undefined) {
        warnings.push(`${workload}: ${from}: targetPort "${p.targetPort}" names no container port of the pod`);
        continue;
      }
      if (PROXY_PORTS.includes(target)) {
        warnings.push(`${workload}: ${from} has targetPort ${target}, which the sidecar holds (${PROXY_PORTS.join(', ')}): the application cannot serve it`);
        continue;
      }
      if (appProtocolOf(p.appProtocol, p.name) === 'tcp') {
        warnings.push(`${workload}: ${from} is not HTTP (appProtocol/name), so the mesh does not proxy it; its traffic is not redirected`);
        tcp.add(target);
      } else http.add(target);
    }
  }
  // A port that some Service serves as HTTP is a mesh port.
  return [...new Set([...[...tcp].filter((t) => !http.has(t)), ...o.excludeInboundPorts])].sort((a, b) => a - b);
}

const restricted = (uid: number) => ({
  runAsUser: uid,
  runAsGroup: uid,
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
});

function sidecarParts(o: InjectOptions, excludeInbound: number[], cluster: string): { initContainers: Json[]; proxy: Json; volumes: Json[] } {
  const initContainers: Json[] = [];
  const xdsPort = splitHostPort(o.xdsAddress).port;
  if (o.mode === 'transparent') {
    initContainers.push({
      name: NAMES.iptables,
      image: o.trellisImage,
      imagePullPolicy: 'IfNotPresent',
      command: ['sh', '-c', iptablesScript({ excludeInboundPorts: excludeInbound, xdsPort, excludePorts: o.excludeOutboundPorts, excludeCidrs: o.excludeOutboundCidrs })],
      // The node's probes reach the application directly (kubelet does not speak mTLS).
      env: [
        { name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
        { name: 'XTABLES_LOCKFILE', value: '/tmp/xtables.lock' },
      ],
      securityContext: {
        runAsUser: 0,
        runAsGroup: 0,
        runAsNonRoot: false,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] },
      },
      resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
      volumeMounts: [{ name: NAMES.tmpVolume, mountPath: '/tmp' }],
    });
  }
  const args = [
    'bootstrap',
    '--token-file', TOKEN_PATH,
    '--mode', o.mode,
    '--xds-address', o.xdsAddress,
    '--trust-domain', o.trustDomain,
    '--cluster', cluster,
    '--admin-address', `127.0.0.1:${ADMIN_PORT}`,
    '--out', BOOTSTRAP_PATH,
    ...(o.caPem ? [] : ['--plaintext']),
  ];
  initContainers.push({
    name: NAMES.bootstrap,
    image: o.trellisImage,
    imagePullPolicy: 'IfNotPresent',
    args,
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      ...(o.caPem ? [{ name: 'TRELLIS_CA_PEM', value: o.caPem }] : []),
    ],
    // The bootstrap is written 0600 by the proxy's user, who alone reads it.
    securityContext: restricted(PROXY_UID),
    resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '256Mi' } },
    volumeMounts: [
      { name: NAMES.tokenVolume, mountPath: TOKEN_DIR, readOnly: true },
      { name: NAMES.bootstrapVolume, mountPath: BOOTSTRAP_DIR },
      { name: NAMES.tmpVolume, mountPath: '/tmp' },
    ],
  });
  const proxy: Json = {
    name: NAMES.proxy,
    image: o.envoyImage,
    imagePullPolicy: 'IfNotPresent',
    ...(o.nativeSidecar ? { restartPolicy: 'Always' } : {}),
    command: ['envoy'],
    args: ['-c', BOOTSTRAP_PATH, '--disable-hot-restart', '--log-level', 'warn', '--drain-time-s', '5'],
    securityContext: restricted(PROXY_UID),
    resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '512Mi' } },
    volumeMounts: [{ name: NAMES.bootstrapVolume, mountPath: BOOTSTRAP_DIR, readOnly: true }],
  };
  const volumes: Json[] = [
    {
      name: NAMES.tokenVolume,
      projected: { sources: [{ serviceAccountToken: { audience: o.tokenAudience, expirationSeconds: o.tokenExpirationSeconds, path: TOKEN_FILE_NAME } }] },
    },
    // In memory: the bootstrap carries the token.
    { name: NAMES.bootstrapVolume, emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
    { name: NAMES.tmpVolume, emptyDir: { sizeLimit: '64Mi' } },
  ];
  return { initContainers, proxy, volumes };
}

export interface IptablesPlan {
  /** Inbound ports not redirected (besides the sidecar's own). */
  excludeInboundPorts: readonly number[];
  xdsPort: number;
  /** Outbound ports and CIDRs not redirected. */
  excludePorts: readonly number[];
  excludeCidrs: readonly string[];
}

/**
 * The redirect, as a shell script for the init container: one
 * iptables-restore transaction on the nat table (IPv4). Outbound: every TCP
 * connection the pod opens goes to the sidecar's outbound listener (15001,
 * original_dst), except the sidecar's own (uid 1337), loopback, DNS over TCP,
 * the xDS port and what --exclude-outbound-* name. Inbound: every TCP
 * connection to the pod goes to the sidecar's inbound listener (15006,
 * original_dst, one filter chain per targetPort), except from the node
 * (HOST_IP: kubelet probes), to the sidecar's own ports and to the excluded
 * ports.
 */
export function iptablesScript(p: IptablesPlan): string {
  const lines = [
    '*nat',
    ':TRELLIS_INBOUND - [0:0]',
    ':TRELLIS_OUTPUT - [0:0]',
    '-A PREROUTING -p tcp -j TRELLIS_INBOUND',
    '-A OUTPUT -p tcp -j TRELLIS_OUTPUT',
    ...[...new Set([...PROXY_PORTS, ...p.excludeInboundPorts])].map((port) => `-A TRELLIS_INBOUND -p tcp --dport ${port} -j RETURN`),
    `-A TRELLIS_INBOUND -p tcp -j REDIRECT --to-ports ${INBOUND_PORT}`,
    `-A TRELLIS_OUTPUT -m owner --uid-owner ${PROXY_UID} -j RETURN`,
    '-A TRELLIS_OUTPUT -o lo -j RETURN',
    '-A TRELLIS_OUTPUT -d 127.0.0.0/8 -j RETURN',
    ...[...new Set([53, p.xdsPort, ...p.excludePorts])].map((port) => `-A TRELLIS_OUTPUT -p tcp --dport ${port} -j RETURN`),
    ...p.excludeCidrs.map((cidr) => `-A TRELLIS_OUTPUT -d ${cidr} -j RETURN`),
    `-A TRELLIS_OUTPUT -p tcp -j REDIRECT --to-ports ${OUTBOUND_PORT}`,
    'COMMIT',
  ];
  const echo = (l: string) => `  echo '${l}'`;
  const at = lines.indexOf('-A OUTPUT -p tcp -j TRELLIS_OUTPUT') + 1;
  return [
    'set -eu',
    // A restarted init container finds its rules in place (the pod's network namespace outlives it).
    'if iptables -t nat -C OUTPUT -p tcp -j TRELLIS_OUTPUT 2>/dev/null; then echo "trellis: redirect already installed"; exit 0; fi',
    '{',
    ...lines.slice(0, at).map(echo),
    // The node's address is known only at run time: its probes reach the application directly.
    '  case "${HOST_IP:-}" in *.*) echo "-A TRELLIS_INBOUND -s ${HOST_IP}/32 -j RETURN" ;; esac',
    ...lines.slice(at).map(echo),
    '} > "${TMPDIR:-/tmp}/trellis.rules"',
    'iptables-restore --noflush < "${TMPDIR:-/tmp}/trellis.rules"',
    'iptables -t nat -S',
    '',
  ].join('\n');
}

// --- the command -----------------------------------------------------------------

function ports(list: string[], flag: string): number[] {
  return list.flatMap((v) => v.split(',')).filter((v) => v.trim() !== '').map((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`--${flag} ${v}: not a port`);
    return n;
  });
}

export async function injectCommand(argv: string[]): Promise<number> {
  try {
    // `-f FILE` as kubectl spells it.
    const args = parseArgs(argv.map((a) => (a === '-f' ? '--filename' : a)), {
      values: {
        out: undefined,
        mode: DEFAULT_INJECT_OPTIONS.mode,
        'xds-address': DEFAULT_INJECT_OPTIONS.xdsAddress,
        'ca-file': undefined,
        'trust-domain': DEFAULT_INJECT_OPTIONS.trustDomain,
        image: DEFAULT_INJECT_OPTIONS.trellisImage,
        'envoy-image': DEFAULT_INJECT_OPTIONS.envoyImage,
        'token-audience': DEFAULT_INJECT_OPTIONS.tokenAudience,
        'token-expiration': String(DEFAULT_INJECT_OPTIONS.tokenExpirationSeconds),
      },
      booleans: ['plaintext', 'native-sidecar', 'quiet'],
      repeatable: ['filename', 'exclude-inbound-ports', 'exclude-outbound-ports', 'exclude-outbound-cidrs'],
    });
    const mode = args.values.mode;
    if (mode !== 'transparent' && mode !== 'explicit') throw new UsageError(`--mode ${mode}: expected transparent or explicit`);
    if (!args.values['ca-file'] && !args.booleans.plaintext) {
      throw new UsageError('--ca-file ROOT.crt is required (the mesh root the sidecars trust for the xDS connection: root.crt of the Secret trellis-ca), or --plaintext');
    }
    const caPem = args.values['ca-file'] ? await readInput(args.values['ca-file']) : undefined;
    if (caPem !== undefined && !caPem.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--ca-file ${args.values['ca-file']}: no PEM certificate in it`);
    const expiration = Number(args.values['token-expiration']);
    if (!Number.isInteger(expiration) || expiration < 600) throw new UsageError('--token-expiration: whole seconds, at least 600 (the kubelet\'s minimum)');
    const files = [...args.lists.filename!, ...args.positionals];
    const texts = files.length === 0 || (files.length === 1 && files[0] === '-') ? [await readStdin()] : await Promise.all(files.map((f) => (f === '-' ? readStdin() : readInput(f))));
    const result = injectManifest(texts.map((t) => t.replace(/\s+$/, '')).join('\n---\n'), {
      mode,
      xdsAddress: args.values['xds-address']!,
      caPem,
      trustDomain: args.values['trust-domain']!,
      trellisImage: args.values.image!,
      envoyImage: args.values['envoy-image']!,
      tokenAudience: args.values['token-audience']!,
      tokenExpirationSeconds: expiration,
      // Native sidecars unless --native-sidecar=false.
      nativeSidecar: !argv.some((a) => a === '--native-sidecar=false'),
      excludeInboundPorts: ports(args.lists['exclude-inbound-ports']!, 'exclude-inbound-ports'),
      excludeOutboundPorts: ports(args.lists['exclude-outbound-ports']!, 'exclude-outbound-ports'),
      excludeOutboundCidrs: args.lists['exclude-outbound-cidrs']!.flatMap((v) => v.split(',')).filter(Boolean),
    });
    if (args.values.out) await writeFile(args.values.out, result.yaml);
    else process.stdout.write(result.yaml);
    if (!args.booleans.quiet) {
      for (const w of result.injected) process.stderr.write(`trellis inject: ${w}: sidecar added\n`);
      for (const s of result.skipped) process.stderr.write(`trellis inject: ${s.workload}: skipped (${s.reason})\n`);
      for (const w of result.warnings) process.stderr.write(`trellis inject: warning: ${w}\n`);
    }
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`trellis inject: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

async function readInput(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
