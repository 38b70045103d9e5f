/**
 * `trellis bootstrap --workload ns/name`: prints the Envoy bootstrap for a
 * workload of the mesh folder, with a token that proves its identity.
 * `--gateway ns/name`: the same for an Envoy serving a Gateway of Trellis's
 * GatewayClass (its identity is the Gateway's service account's).
 *
 * `trellis bootstrap --token-file F` (in a cluster, the init container that
 * `trellis inject` adds): the node is the pod ("$POD_NAMESPACE/$POD_NAME"),
 * its identity is proven by the projected service-account token in F, sent
 * as `authorization: Bearer <token>` (checked by a TokenReview; over TLS
 * Envoy reads F again for every ADS stream, so F must be mounted in the
 * sidecar at the same path), and the
 * root to trust comes from --ca-file or $TRELLIS_CA_PEM. Needs no mesh folder
 * and no state dir: nothing secret of the control plane enters the pod.
 *
 * `--xds-api delta|sotw`: the ADS variant the sidecar or gateway speaks;
 * delta (the default) sends only what changed (translate/bootstrap.ts, XdsApi).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { buildMesh, formatProblem, formatSourceError } from '../model/index.ts';
import { loadPaths } from '../sources/file/load.ts';
import { clusterBootstrapYaml, gatewayBootstrapYaml, workloadBootstrapYaml } from '../runtime/bootstrap.ts';
import { OperatorError, UsageError } from '../errors.ts';
import { parseArgs } from './args.ts';
import { meshOf } from './workload-certs.ts';
import { proxylessBootstrap, writeWorkloadCertificates } from '../runtime/workload-certs.ts';
import { writeOutput } from './output.ts';
import { ADMIN_PORT } from '../translate/sidecar.ts';
import { XDS_APIS, type XdsApi } from '../translate/bootstrap.ts';

function parsePorts(list: string[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const item of list) {
    const [a, b] = item.split('=').map(Number);
    if (!Number.isInteger(a) || !Number.isInteger(b)) throw new UsageError(`--app-port ${item}: expected SERVICE_PORT=APP_PORT, e.g. 8080=18080`);
    m.set(a!, b!);
  }
  return m;
}

function xdsApiOf(v: string): XdsApi {
  if (!(XDS_APIS as readonly string[]).includes(v)) throw new UsageError(`--xds-api ${v}: expected one of ${XDS_APIS.join(', ')}`);
  return v as XdsApi;
}

export async function bootstrapCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, {
    values: {
      workload: undefined,
      gateway: undefined,
      'listen-address': undefined,
      out: undefined,
      source: 'file:.',
      'state-dir': '.trellis',
      'xds-address': '127.0.0.1:18000',
      'admin-address': `127.0.0.1:${ADMIN_PORT}`,
      'outbound-address': undefined,
      'stats-address': undefined,
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
      // proxyless gRPC (gRFC A29): where the certificate files go
      'cert-dir': undefined,
      // the ADS variant the sidecar speaks: delta (default) or sotw
      'xds-api': 'delta',
    },
    repeatable: ['app-port'],
    booleans: ['plaintext', 'proxyless'],
  });
  if (args.booleans.proxyless) return proxylessBootstrapCommand(args.values);
  const xdsApi = xdsApiOf(args.values['xds-api']!);
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
      statsAddress: args.values['stats-address'],
      xdsApi,
      // A gateway pod (docs/gateway-api.md "Running a gateway"): its identity is its pod's service account.
      ...(args.values.gateway ? { gateway: { key: args.values.gateway, ...(args.values['listen-address'] ? { address: args.values['listen-address'] } : {}) } } : {}),
    });
    if (args.values.out) await writeOutput(args.values.out, yaml, 0o600);
    else process.stdout.write(yaml);
    return 0;
  }
  if (args.values.gateway !== undefined) return gatewayBootstrapCommand(args.values, args.booleans.plaintext, xdsApi);
  const workloadKey = args.values.workload;
  if (!workloadKey || !workloadKey.includes('/')) throw new UsageError('--workload ns/name is required (a Pod in the mesh folder), or --gateway ns/name');
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
    statsAddress: args.values['stats-address'],
    xdsApi,
  });
  if (args.values.out) await writeOutput(args.values.out, yaml, 0o600);
  else process.stdout.write(yaml);
  return 0;
}

/**
 * `--gateway ns/name`: the bootstrap of an Envoy that serves a Gateway of
 * Trellis's GatewayClass in the mesh folder (`--listen-address`: where its
 * listeners bind; `--node-id`: one per replica).
 */
async function gatewayBootstrapCommand(v: Record<string, string | undefined>, plaintext: boolean | undefined, xdsApi: XdsApi): Promise<number> {
  const key = v.gateway!;
  if (!/^[a-z0-9-]+\/[a-z0-9.-]+$/.test(key)) throw new UsageError(`--gateway ${JSON.stringify(key)}: expected namespace/name of a Gateway`);
  const source = v.source!;
  if (!source.startsWith('file:')) throw new UsageError(`--source ${source}: expected file:<dir>`);
  const loaded = await loadPaths([source.slice(5)]);
  for (const e of loaded.errors) process.stderr.write(`${formatSourceError(e)}\n`);
  const { model, statuses } = buildMesh(loaded.objects);
  if (!model.gateways.has(key)) {
    const s = statuses.find((x) => x.kind === 'Gateway' && `${x.namespace}/${x.name}` === key);
    const why = !s ? `there is no Gateway ${key} in ${source.slice(5)}` : s.problems.length > 0 ? s.problems.map(formatProblem).join('\n') : `its GatewayClass is not one of Trellis's (controllerName trellis.io/gateway-controller)`;
    throw new OperatorError(`Gateway ${key} is not programmed by Trellis: ${why}`);
  }
  const yaml = await gatewayBootstrapYaml({
    model,
    gatewayKey: key,
    nodeId: v['node-id'],
    stateDir: path.resolve(v['state-dir']!),
    plaintext,
    xdsAddress: v['xds-address']!,
    adminAddress: v['admin-address']!,
    listenAddress: v['listen-address'],
    tokenTtlMs: v['token-ttl'] ? Number(v['token-ttl']) * 1000 : undefined,
    xdsApi,
  });
  if (v.out) await writeOutput(v.out, yaml, 0o600);
  else process.stdout.write(yaml);
  return 0;
}

/**
 * `--proxyless --cert-dir D`: the gRPC xDS bootstrap (JSON) of a proxyless
 * workload, whose file_watcher certificate provider reads D; the files are
 * written now (keep them fresh with `trellis workload-certs --watch`).
 */
async function proxylessBootstrapCommand(v: Record<string, string | undefined>): Promise<number> {
  if (!v['cert-dir']) throw new UsageError('--cert-dir D is required with --proxyless: where the certificate files are written and the bootstrap reads them');
  const { model, workloadKey } = await meshOf(v.source!, v.workload);
  const certDir = path.resolve(v['cert-dir']);
  await writeWorkloadCertificates({ stateDir: path.resolve(v['state-dir']!), trustDomain: model.mesh.trustDomain, spiffeId: model.workloads.get(workloadKey)!.identity, dir: certDir });
  const json = `${JSON.stringify(proxylessBootstrap({ model, workloadKey, xdsAddress: v['xds-address']!, certDir }), null, 2)}\n`;
  if (v.out) await writeOutput(v.out, json, 0o644);
  else process.stdout.write(json);
  return 0;
}

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
