/**
 * `trellis bootstrap --workload ns/name`: prints the Envoy bootstrap for a
 * workload of the mesh folder, with a token that proves its identity.
 *
 * `trellis bootstrap --token-file F` (in a cluster, the init container that
 * `trellis inject` adds): the node is the pod ("$POD_NAMESPACE/$POD_NAME"),
 * its identity is proven by the projected service-account token in F, sent
 * as `authorization: Bearer <token>` (checked by a TokenReview), and the
 * root to trust comes from --ca-file or $TRELLIS_CA_PEM. Needs no mesh folder
 * and no state dir: nothing secret of the control plane enters the pod.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { buildMesh, formatSourceError, type MeshModel } from '../model/index.ts';
import type { InterceptionMode } from '../translate/proxy.ts';
import { loadPaths } from '../sources/file/load.ts';
import { CertificateAuthority } from '../ca/authority.ts';
import { WorkloadTokens } from '../ca/token.ts';
import { envoyBootstrap } from '../translate/bootstrap.ts';
import { OperatorError, UsageError } from '../errors.ts';
import { parseArgs } from './args.ts';
import { controlPlaneSpiffeId } from '../identity/spiffe.ts';
import { splitHostPort } from '../admin/http.ts';

function addressOf(s: string): { address: string; port: number } {
  const { host, port } = splitHostPort(s);
  return { address: host, port };
}

function parsePorts(list: string[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const item of list) {
    const [a, b] = item.split('=').map(Number);
    if (!Number.isInteger(a) || !Number.isInteger(b)) throw new UsageError(`--app-port ${item}: expected SERVICE_PORT=APP_PORT, e.g. 8080=18080`);
    m.set(a!, b!);
  }
  return m;
}

export async function bootstrapCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, {
    values: {
      workload: undefined,
      out: undefined,
      source: 'file:.',
      'state-dir': '.trellis',
      'xds-address': '127.0.0.1:18000',
      'admin-address': '127.0.0.1:15000',
      'outbound-address': undefined,
      mode: 'explicit',
      'app-address': undefined,
      'token-ttl': undefined,
      // cluster mode (--token-file)
      'token-file': undefined,
      'node-id': undefined,
      cluster: undefined,
      zone: undefined,
      'trust-domain': 'cluster.local',
      'ca-file': undefined,
    },
    repeatable: ['app-port'],
    booleans: ['plaintext'],
  });
  if (args.values['token-file'] !== undefined) {
    const yaml = await clusterBootstrapYaml({
      tokenFile: args.values['token-file'],
      nodeId: args.values['node-id'] ?? podNodeId(),
      cluster: args.values.cluster,
      zone: args.values.zone,
      trustDomain: args.values['trust-domain']!,
      caPem: args.booleans.plaintext ? undefined : await caPemOf(args.values['ca-file']),
      mode: args.values.mode === 'transparent' ? 'transparent' : 'explicit',
      xdsAddress: args.values['xds-address']!,
      adminAddress: args.values['admin-address']!,
      outboundAddress: args.values['outbound-address'],
      appPorts: parsePorts(args.lists['app-port'] ?? []),
      appAddress: args.values['app-address'],
    });
    if (args.values.out) await writeFile(args.values.out, yaml, { mode: 0o600 });
    else process.stdout.write(yaml);
    return 0;
  }
  const workloadKey = args.values.workload;
  if (!workloadKey || !workloadKey.includes('/')) throw new UsageError('--workload ns/name is required (a Pod in the mesh folder)');
  const source = args.values.source!;
  if (!source.startsWith('file:')) throw new UsageError(`--source ${source}: expected file:<dir>`);
  const loaded = await loadPaths([source.slice(5)]);
  for (const e of loaded.errors) process.stderr.write(`${formatSourceError(e)}\n`);
  const { model } = buildMesh(loaded.objects);
  if (!model.workloads.has(workloadKey)) throw new OperatorError(`no Pod ${workloadKey} in ${source.slice(5)}; known: ${[...model.workloads.keys()].join(', ') || 'none'}`);
  const yaml = await workloadBootstrapYaml({
    model,
    workloadKey,
    stateDir: path.resolve(args.values['state-dir']!),
    mode: args.values.mode === 'transparent' ? 'transparent' : 'explicit',
    plaintext: args.booleans.plaintext,
    xdsAddress: args.values['xds-address']!,
    adminAddress: args.values['admin-address']!,
    outboundAddress: args.values['outbound-address'],
    appPorts: parsePorts(args.lists['app-port'] ?? []),
    appAddress: args.values['app-address'],
    tokenTtlMs: args.values['token-ttl'] ? Number(args.values['token-ttl']) * 1000 : undefined,
  });
  if (args.values.out) await writeFile(args.values.out, yaml, { mode: 0o600 });
  else process.stdout.write(yaml);
  return 0;
}

export interface WorkloadBootstrapOptions {
  model: MeshModel;
  workloadKey: string;
  stateDir: string;
  mode: InterceptionMode;
  plaintext?: boolean;
  xdsAddress: string;
  adminAddress: string;
  outboundAddress?: string;
  appPorts?: ReadonlyMap<number, number>;
  appAddress?: string;
  tokenTtlMs?: number;
}

/** The bootstrap of one workload as YAML, with a fresh token for its identity bound to its node id. */
export async function workloadBootstrapYaml(o: WorkloadBootstrapOptions): Promise<string> {
  const workload = o.model.workloads.get(o.workloadKey);
  if (!workload) throw new Error(`no workload ${o.workloadKey}`);
  const trustDomain = o.model.mesh.trustDomain;
  const ca = o.plaintext ? undefined : await CertificateAuthority.open({ trustDomain, stateDir: o.stateDir });
  const tokens = await WorkloadTokens.open({ stateDir: o.stateDir, trustDomain });
  const token = tokens.issue({ spiffeId: workload.identity, nodeId: o.workloadKey, ttlMs: o.tokenTtlMs });
  const bootstrap = envoyBootstrap({
    nodeId: o.workloadKey,
    cluster: workload.labels.app ?? workload.name,
    zone: workload.zone,
    workload: o.workloadKey,
    mode: o.mode,
    xds: addressOf(o.xdsAddress),
    trustedCaPem: ca?.trustBundlePem(),
    serverSpiffeId: ca ? controlPlaneSpiffeId(trustDomain) : undefined,
    token,
    admin: addressOf(o.adminAddress),
    outboundAddress: o.outboundAddress ?? `${o.mode === 'transparent' ? '0.0.0.0' : (workload.ip ?? '127.0.0.1')}:15001`,
    appPorts: o.appPorts,
    appAddress: o.appAddress,
  });
  return `# Envoy bootstrap for ${o.workloadKey} (${workload.identity}), written by trellis bootstrap.\n# It carries a token that proves this identity to Trellis: keep it as secret as a key.\n${stringify(bootstrap, { lineWidth: 0 })}`;
}

/** The header a projected service-account token travels in (src/identity/token-review.ts reads it). */
export const SA_TOKEN_HEADER = 'authorization';

/** "$POD_NAMESPACE/$POD_NAME", from the downward API. */
function podNodeId(): string {
  const { POD_NAMESPACE: ns, POD_NAME: pod } = process.env;
  if (!ns || !pod) throw new UsageError('--node-id ns/pod, or POD_NAMESPACE and POD_NAME in the environment (the downward API), is required with --token-file');
  return `${ns}/${pod}`;
}

async function caPemOf(file: string | undefined): Promise<string> {
  const pem = file ? await readFile(file, 'utf8') : process.env.TRELLIS_CA_PEM;
  if (!pem || !pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new UsageError(file ? `--ca-file ${file}: no PEM certificate in it` : '--ca-file (the mesh root, PEM) or TRELLIS_CA_PEM is required with --token-file, unless --plaintext');
  }
  return pem;
}

export interface ClusterBootstrapOptions {
  /** The projected service-account token (audience trellis), read now. */
  tokenFile: string;
  /** "ns/pod" */
  nodeId: string;
  /** Envoy's service cluster (default: the pod name without its replica suffixes). */
  cluster?: string;
  zone?: string;
  trustDomain: string;
  /** The root(s) the xDS server's certificate chains to; absent = plaintext. */
  caPem?: string;
  mode: InterceptionMode;
  xdsAddress: string;
  adminAddress: string;
  outboundAddress?: string;
  appPorts?: ReadonlyMap<number, number>;
  appAddress?: string;
}

/**
 * The bootstrap of a pod's sidecar in a cluster: the same as a folder's, but
 * its identity is proven by the pod's projected service-account token,
 * presented as `authorization: Bearer <token>` on the ADS stream.
 */
export async function clusterBootstrapYaml(o: ClusterBootstrapOptions): Promise<string> {
  if (!/^[a-z0-9-]+\/[a-z0-9.-]+$/.test(o.nodeId)) throw new UsageError(`node id ${JSON.stringify(o.nodeId)}: expected namespace/pod`);
  const token = (
    await readFile(o.tokenFile, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new UsageError(`--token-file ${o.tokenFile}: ${e.code ?? e.message} (is the projected service-account token volume mounted?)`);
    })
  ).trim();
  if (token.split('.').length !== 3) throw new UsageError(`--token-file ${o.tokenFile}: not a service-account token (a JWT)`);
  const pod = o.nodeId.slice(o.nodeId.indexOf('/') + 1);
  const bootstrap = envoyBootstrap({
    nodeId: o.nodeId,
    // web-7d9c8b6f5-x2x9q (Deployment), db-0 (StatefulSet) -> web, db
    cluster: o.cluster ?? pod.replace(/(-[a-z0-9]{8,10})?-[a-z0-9]{5}$|-\d+$/, ''),
    zone: o.zone,
    workload: o.nodeId,
    mode: o.mode,
    xds: addressOf(o.xdsAddress),
    trustedCaPem: o.caPem,
    serverSpiffeId: o.caPem ? controlPlaneSpiffeId(o.trustDomain) : undefined,
    admin: addressOf(o.adminAddress),
    outboundAddress: o.outboundAddress ?? `${o.mode === 'transparent' ? '0.0.0.0' : '127.0.0.1'}:15001`,
    appPorts: o.appPorts,
    appAddress: o.appAddress,
  });
  // envoyBootstrap puts a token in x-trellis-token; this one is a bearer token.
  const ads = (bootstrap.dynamic_resources as { ads_config: { grpc_services: Array<Record<string, unknown>> } }).ads_config;
  ads.grpc_services[0]!.initial_metadata = [{ key: SA_TOKEN_HEADER, value: `Bearer ${token}` }];
  return `# Envoy bootstrap for ${o.nodeId}, written by trellis bootstrap --token-file.\n# It carries the pod's service-account token: keep it as secret as a key.\n${stringify(bootstrap, { lineWidth: 0 })}`;
}
