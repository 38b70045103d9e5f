/**
 * The Envoy bootstrap a sidecar starts from, as YAML, with what proves its
 * identity: for a workload of a mesh folder, a Trellis workload token signed
 * with the state dir's key; for a pod in a cluster, the pod's projected
 * service-account token, presented as `authorization: Bearer <token>` and
 * checked by a TokenReview (docs/kubernetes.md). `trellis bootstrap` and the
 * demo write them; translate/bootstrap.ts builds the bootstrap itself.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import type { MeshModel } from '../model/index.ts';
import type { InterceptionMode } from '../translate/proxy.ts';
import { CertificateAuthority } from '../ca/authority.ts';
import { WorkloadTokens } from '../ca/token.ts';
import { envoyBootstrap, type XdsApi } from '../translate/bootstrap.ts';
import { workloadLabel } from '../translate/telemetry.ts';
import { UsageError } from '../errors.ts';
import { controlPlaneSpiffeId } from '../identity/spiffe.ts';
import { SA_TOKEN_METADATA_KEY } from '../identity/token-review.ts';
import { OUTBOUND_PORT, STATS_PORT } from '../translate/sidecar.ts';
import { formatSpiffeId } from '../identity/spiffe.ts';
import { splitHostPort } from '../admin/http.ts';

function addressOf(s: string): { address: string; port: number } {
  const { host, port } = splitHostPort(s);
  return { address: host, port };
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
  /** The Prometheus listener (docs/telemetry.md): host:port, or `off`. Default: the outbound listener's host, port 15090. */
  statsAddress?: string;
  /** The ADS variant (translate/bootstrap.ts): delta by default. */
  xdsApi?: XdsApi;
}

/** `host:port` -> the bootstrap's stats listener, or none for `off`. */
function statsListenerAt(statsAddress: string | undefined, outboundAddress: string): { address: string; port: number } | undefined {
  if (statsAddress === 'off') return undefined;
  return addressOf(statsAddress ?? `${splitHostPort(outboundAddress).host}:${STATS_PORT}`);
}

/** The bootstrap of one workload as YAML, with a fresh token for its identity bound to its node id. */
export async function workloadBootstrapYaml(o: WorkloadBootstrapOptions): Promise<string> {
  const workload = o.model.workloads.get(o.workloadKey);
  if (!workload) throw new Error(`no workload ${o.workloadKey}`);
  const trustDomain = o.model.mesh.trustDomain;
  const ca = o.plaintext ? undefined : await CertificateAuthority.open({ trustDomain, stateDir: o.stateDir });
  const tokens = await WorkloadTokens.open({ stateDir: o.stateDir, trustDomain });
  const token = tokens.issue({ spiffeId: workload.identity, nodeId: o.workloadKey, ttlMs: o.tokenTtlMs });
  const outboundAddress = o.outboundAddress ?? `${o.mode === 'transparent' ? '0.0.0.0' : (workload.ip ?? '127.0.0.1')}:${OUTBOUND_PORT}`;
  const cluster = workloadLabel(workload);
  const stats = statsListenerAt(o.statsAddress, outboundAddress);
  const bootstrap = envoyBootstrap({
    nodeId: o.workloadKey,
    cluster,
    zone: workload.zone,
    workload: o.workloadKey,
    mode: o.mode,
    xds: addressOf(o.xdsAddress),
    trustedCaPem: ca?.trustBundlePem(),
    serverSpiffeId: ca ? controlPlaneSpiffeId(trustDomain) : undefined,
    token,
    admin: addressOf(o.adminAddress),
    outboundAddress,
    appPorts: o.appPorts,
    appAddress: o.appAddress,
    xdsApi: o.xdsApi,
    ...(stats ? { stats: { ...stats, source: { namespace: workload.namespace, workload: cluster, identity: workload.identity } } } : {}),
  });
  return `# Envoy bootstrap for ${o.workloadKey} (${workload.identity}), written by trellis bootstrap.\n# It carries a token that proves this identity to Trellis: keep it as secret as a key.\n${stringify(bootstrap, { lineWidth: 0 })}`;
}

export interface GatewayBootstrapOptions {
  model: MeshModel;
  /** "ns/name" of a Gateway of Trellis's GatewayClass. */
  gatewayKey: string;
  /** Default "ns/name" of the Gateway; give each replica its own. */
  nodeId?: string;
  stateDir: string;
  plaintext?: boolean;
  xdsAddress: string;
  adminAddress: string;
  /** Where its listeners bind (the Gateway's listener ports); default every address. */
  listenAddress?: string;
  tokenTtlMs?: number;
  /** The ADS variant, as a sidecar's (default delta: a route edit sends the gateway that route alone). */
  xdsApi?: XdsApi;
}

/**
 * The bootstrap of a Trellis gateway (docs/gateway-api.md "North-south"):
 * node metadata `trellis.gateway` names the Gateway, and a workload token
 * proves the Gateway's identity (its service account's SPIFFE ID), bound to
 * the node id, as a sidecar's does: only a stream that proves it receives
 * the gateway's certificates and keys.
 */
export async function gatewayBootstrapYaml(o: GatewayBootstrapOptions): Promise<string> {
  const gateway = o.model.gateways.get(o.gatewayKey);
  if (!gateway) throw new Error(`no programmed Gateway ${o.gatewayKey}`);
  const trustDomain = o.model.mesh.trustDomain;
  const nodeId = o.nodeId ?? o.gatewayKey;
  const ca = o.plaintext ? undefined : await CertificateAuthority.open({ trustDomain, stateDir: o.stateDir });
  const tokens = await WorkloadTokens.open({ stateDir: o.stateDir, trustDomain });
  const token = tokens.issue({ spiffeId: gateway.identity, nodeId, ttlMs: o.tokenTtlMs });
  const bootstrap = envoyBootstrap({
    nodeId,
    cluster: `${gateway.name}-gateway`,
    gateway: { key: gateway.key, ...(o.listenAddress ? { address: o.listenAddress } : {}) },
    xds: addressOf(o.xdsAddress),
    trustedCaPem: ca?.trustBundlePem(),
    serverSpiffeId: ca ? controlPlaneSpiffeId(trustDomain) : undefined,
    token,
    admin: addressOf(o.adminAddress),
    xdsApi: o.xdsApi,
  });
  return `# Envoy bootstrap for Gateway ${o.gatewayKey} (${gateway.identity}), written by trellis bootstrap --gateway.\n# It carries a token that proves this identity to Trellis (and so gets the Gateway's TLS keys): keep it as secret as a key.\n${stringify(bootstrap, { lineWidth: 0 })}`;
}

export interface ClusterBootstrapOptions {
  /**
   * The projected service-account token (audience trellis). Checked now; over
   * TLS Envoy reads it again on every ADS stream (the kubelet rotates it in
   * place), over plaintext the bootstrap carries the token read now.
   */
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
  /** As for a folder's workload; default 0.0.0.0:15090 (what the scrape annotations of `trellis inject` name). */
  statsAddress?: string;
  /** The ADS variant (translate/bootstrap.ts): delta by default. */
  xdsApi?: XdsApi;
  /** A gateway pod instead of a sidecar: the Gateway it serves and where its listeners bind. */
  gateway?: { key: string; address?: string };
}

/**
 * The service account a projected token was issued for, from its (unverified)
 * claims: only a label of the sidecar's own metrics, never a proof of
 * anything (the ADS stream proves the identity through a TokenReview).
 */
function serviceAccountOfToken(token: string): { namespace: string; name: string } | undefined {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sub?: unknown };
    const m = typeof claims.sub === 'string' ? /^system:serviceaccount:([^:]+):([^:]+)$/.exec(claims.sub) : null;
    return m ? { namespace: m[1]!, name: m[2]! } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The bootstrap of a pod's sidecar in a cluster: the same as a folder's, but
 * its identity is proven by the pod's projected service-account token,
 * presented as `authorization: Bearer <token>` on the ADS stream. Over TLS
 * the bootstrap names the token's file, not the token: Envoy reads the file
 * for each stream, so a reconnect after the first token expired presents the
 * one the kubelet has rotated in (issue 13), and the bootstrap holds no secret.
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
  const namespace = o.nodeId.slice(0, o.nodeId.indexOf('/'));
  // web-7d9c8b6f5-x2x9q (Deployment), db-0 (StatefulSet) -> web, db
  const cluster = o.cluster ?? pod.replace(/(-[a-z0-9]{8,10})?-[a-z0-9]{5}$|-\d+$/, '');
  const sa = serviceAccountOfToken(token);
  const stats = statsListenerAt(o.statsAddress, `0.0.0.0:${STATS_PORT}`);
  const source = { namespace, workload: cluster, ...(sa ? { identity: formatSpiffeId(o.trustDomain, sa.namespace, sa.name) } : {}) };
  const bootstrap = envoyBootstrap({
    nodeId: o.nodeId,
    cluster,
    zone: o.zone,
    workload: o.nodeId,
    mode: o.mode,
    xds: addressOf(o.xdsAddress),
    trustedCaPem: o.caPem,
    serverSpiffeId: o.caPem ? controlPlaneSpiffeId(o.trustDomain) : undefined,
    ...(o.caPem ? { tokenFile: { path: path.resolve(o.tokenFile), header: SA_TOKEN_METADATA_KEY, prefix: 'Bearer ' } } : {}),
    admin: addressOf(o.adminAddress),
    outboundAddress: o.outboundAddress ?? `${o.mode === 'transparent' ? '0.0.0.0' : '127.0.0.1'}:${OUTBOUND_PORT}`,
    appPorts: o.appPorts,
    appAddress: o.appAddress,
    xdsApi: o.xdsApi,
    ...(o.gateway ? { gateway: o.gateway } : {}),
    ...(stats ? { stats: { ...stats, source } } : {}),
  });
  if (o.caPem) return `# Envoy bootstrap for ${o.nodeId}, written by trellis bootstrap --token-file.\n# Envoy reads the pod's service-account token from ${path.resolve(o.tokenFile)} on every ADS stream.\n${stringify(bootstrap, { lineWidth: 0 })}`;
  // Plaintext: gRPC sends file-read call credentials only over TLS, so the token read now goes in as a bearer token.
  bootstrap.dynamic_resources.ads_config.grpc_services![0]!.initial_metadata = [{ key: SA_TOKEN_METADATA_KEY, value: `Bearer ${token}` }];
  return `# Envoy bootstrap for ${o.nodeId}, written by trellis bootstrap --token-file --plaintext.\n# It carries the pod's service-account token: keep it as secret as a key.\n${stringify(bootstrap, { lineWidth: 0 })}`;
}
