/**
 * What sidecar injection is told (InjectOptions) and the contract it writes
 * into every pod: the sidecar's ports and user, where the token and the
 * bootstrap are mounted, the names of what it adds. The translator's
 * listeners, the redirect (iptables.ts) and `trellis bootstrap` must agree
 * on these, so they are written once, here.
 */
// The sidecar contract (ports, uid, token and bootstrap paths) is decided in translate/sidecar.ts.
export { ADMIN_PORT, BOOTSTRAP_DIR, BOOTSTRAP_PATH, INBOUND_PASSTHROUGH_SOURCE, INBOUND_PORT, OUTBOUND_PORT, PROXY_PORTS, PROXY_UID, READY_PATH, SCRAPE_ANNOTATIONS, STATS_PATH, STATS_PORT, TOKEN_DIR, TOKEN_FILE_NAME, TOKEN_PATH } from '../translate/sidecar.ts';

export const ENVOY_IMAGE = 'envoyproxy/envoy:v1.38.3';
export const INJECTED_ANNOTATION = 'trellis.io/injected';
// The opt-out the model reads too (a pod without a sidecar is called in plaintext).
export { INJECT_ANNOTATION } from '../model/kinds/mtls-policy.ts';
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
  /** The sidecar's resources (default overrides.ts PROXY_RESOURCES; annotations trellis.io/proxy-* override). */
  proxyResources?: { requests: Json; limits: Json };
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

/** A manifest object as parsed from YAML: any shape, checked where it is read. */
export type Json = Record<string, any>;

export function isObject(x: unknown): x is Json {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}
