/**
 * `trellis bootstrap --workload ns/name`: prints the Envoy bootstrap for a
 * workload of the mesh folder, with a token that proves its identity.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { buildMesh, formatSourceError, type MeshModel } from '../model/index.ts';
import type { InterceptionMode } from '../translate/proxy.ts';
import { loadPaths } from '../sources/file/load.ts';
import { CertificateAuthority } from '../ca/authority.ts';
import { WorkloadTokens } from '../ca/token.ts';
import { envoyBootstrap } from '../translate/bootstrap.ts';
import { parseArgs, UsageError } from './args.ts';
import { controlPlaneSpiffeId } from './mesh-security.ts';
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
  try {
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
      },
      repeatable: ['app-port'],
      booleans: ['plaintext'],
    });
    const workloadKey = args.values.workload;
    if (!workloadKey || !workloadKey.includes('/')) throw new UsageError('--workload ns/name is required (a Pod in the mesh folder)');
    const source = args.values.source!;
    if (!source.startsWith('file:')) throw new UsageError(`--source ${source}: expected file:<dir>`);
    const loaded = await loadPaths([source.slice(5)]);
    for (const e of loaded.errors) process.stderr.write(`${formatSourceError(e)}\n`);
    const { model } = buildMesh(loaded.objects);
    if (!model.workloads.has(workloadKey)) {
      process.stderr.write(`trellis bootstrap: no Pod ${workloadKey} in ${source.slice(5)}; known: ${[...model.workloads.keys()].join(', ') || 'none'}\n`);
      return 1;
    }
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
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`trellis bootstrap: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
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
