/**
 * The proxy a translation is for: which workload it fronts, what kind of
 * client it is, and how applications reach it. Derived from the node the
 * proxy announced (its id and metadata, written by `trellis bootstrap`) and
 * the model; pure.
 */
import type { MeshGateway, MeshModel, Workload } from '../model/types.ts';
import { CERTIFICATE_PROVIDER_METADATA } from './proxyless-security.ts';
import { NODE_METADATA, OUTBOUND_PORT } from './sidecar.ts';

export type ProxyKind = 'envoy' | 'proxyless';

/**
 * explicit: the application calls the sidecar's outbound port, and the
 * sidecar's inbound listener holds the workload's service ports, forwarding
 * to the application on another port (the demo and docker-compose).
 * transparent: iptables redirects traffic to OUTBOUND_PORT and INBOUND_PORT
 * (sidecar.ts); the application and its callers are unaware of the sidecar
 * (Kubernetes).
 */
export type InterceptionMode = 'explicit' | 'transparent';

export interface ProxyContext {
  nodeId: string;
  kind: ProxyKind;
  workload?: Workload;
  mode: InterceptionMode;
  /** Where the outbound listener binds (explicit: a local address and port). */
  outbound: { address: string; port: number };
  /** Address the inbound listeners bind to (explicit: the workload IP; transparent: 0.0.0.0, port sidecar.ts INBOUND_PORT). */
  inboundAddress: string;
  /** Service port number → port the application listens on (explicit mode; transparent: always the targetPort). */
  appPorts: ReadonlyMap<number, number>;
  /** Address the inbound clusters forward to. */
  appAddress: string;
  /** The caller's zone (its pod's, else its node locality): what PreferSameZone prefers. */
  zone?: string;
  /** Proxyless with a workload: the gRFC A29 certificate provider instance its bootstrap declares (proxyless-security.ts). */
  certificateProvider?: string;
  /**
   * A gateway Envoy (node metadata `trellis.gateway: ns/name`): the Gateway it
   * serves (translate/gateway/), absent while no such Gateway is programmed.
   * It has no workload: its identity is the Gateway's.
   */
  gatewayKey?: string;
  gateway?: MeshGateway;
  /** Where a gateway's listeners bind (node metadata `trellis.gateway_address`; default every address). */
  gatewayAddress?: string;
}

export interface NodeLike {
  id: string;
  user_agent_name?: string;
  locality?: { zone?: string };
  metadata?: Record<string, unknown>;
}

/** One string of node metadata (decoded to plain JSON by xds/wire.ts). */
function meta(node: NodeLike, key: string): string | undefined {
  const v = node.metadata?.[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** A TCP port number; `Number('')` is 0, so "8080=" or "host:" must not pass as port 0 (a random port to Envoy). */
function isPort(n: number | undefined): n is number {
  return Number.isInteger(n) && n! >= 1 && n! <= 65535;
}

function parseAddress(s: string | undefined, fallback: { address: string; port: number }): { address: string; port: number } {
  if (!s) return fallback;
  const i = s.lastIndexOf(':');
  const port = Number(s.slice(i + 1));
  if (i < 0 || !isPort(port)) return fallback;
  // "[::1]:15001": Envoy's socket_address takes the IPv6 address without brackets.
  return { address: s.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port };
}

function parsePortMap(s: string | undefined): Map<number, number> {
  const m = new Map<number, number>();
  for (const part of (s ?? '').split(',')) {
    const pair = part.split('=');
    const [a, b] = pair.map((x) => Number(x.trim()));
    if (pair.length === 2 && isPort(a) && isPort(b)) m.set(a, b);
  }
  return m;
}

/**
 * Which workload a node is: node metadata `trellis.workload` ("ns/pod"), else
 * a node id of the form "ns/pod" or "pod.ns" that names a known pod.
 */
export function workloadOf(node: NodeLike, model: MeshModel): Workload | undefined {
  const declared = meta(node, NODE_METADATA.workload);
  if (declared) return model.workloads.get(declared);
  if (model.workloads.has(node.id)) return model.workloads.get(node.id);
  const dot = node.id.split('.');
  if (dot.length >= 2) return model.workloads.get(`${dot[1]}/${dot[0]}`);
  return undefined;
}

export function proxyContext(node: NodeLike, model: MeshModel): ProxyContext {
  // Envoy announces user_agent_name "envoy"; gRPC libraries announce themselves otherwise.
  const kind: ProxyKind = node.user_agent_name === 'envoy' ? 'envoy' : 'proxyless';
  const gatewayKey = kind === 'envoy' ? meta(node, NODE_METADATA.gateway) : undefined;
  if (gatewayKey !== undefined) {
    const gateway = model.gateways.get(gatewayKey);
    const gatewayAddress = meta(node, NODE_METADATA.gatewayAddress);
    return { nodeId: node.id, kind, gatewayKey, ...(gateway ? { gateway } : {}), ...(gatewayAddress ? { gatewayAddress } : {}), zone: node.locality?.zone || undefined, mode: 'explicit', outbound: { address: '127.0.0.1', port: OUTBOUND_PORT }, inboundAddress: '127.0.0.1', appPorts: new Map(), appAddress: '127.0.0.1' };
  }
  const workload = workloadOf(node, model);
  const mode: InterceptionMode = meta(node, NODE_METADATA.mode) === 'transparent' ? 'transparent' : 'explicit';
  const transparent = mode === 'transparent';
  return {
    nodeId: node.id,
    kind,
    workload,
    mode,
    outbound: parseAddress(meta(node, NODE_METADATA.outboundAddress), { address: transparent ? '0.0.0.0' : '127.0.0.1', port: OUTBOUND_PORT }),
    inboundAddress: transparent ? '0.0.0.0' : (workload?.ip ?? '127.0.0.1'),
    appPorts: parsePortMap(meta(node, NODE_METADATA.appPorts)),
    appAddress: meta(node, NODE_METADATA.appAddress) ?? (transparent ? '127.0.0.1' : (workload?.ip ?? '127.0.0.1')),
    zone: workload?.zone ?? (node.locality?.zone || undefined),
    ...(kind === 'proxyless' && workload && meta(node, CERTIFICATE_PROVIDER_METADATA) ? { certificateProvider: meta(node, CERTIFICATE_PROVIDER_METADATA) } : {}),
  };
}
