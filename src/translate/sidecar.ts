/**
 * The sidecar contract, decided once: what `trellis inject` (the pod's
 * manifest and iptables rules), `trellis bootstrap` (the Envoy bootstrap),
 * `trellis demo` and the translator (the listeners it builds) must agree on
 * about a sidecar Envoy. Change a value here only on purpose: pods injected
 * before the change keep the old one (docs/kubernetes.md, docs/interception.md).
 */

/** Envoy's admin page (stats, /config_dump, /ready). Never redirected: probes and operators reach it directly. */
export const ADMIN_PORT = 15000;

/**
 * The outbound listener: in explicit mode the local port the application
 * calls; in transparent mode where iptables redirects every outbound TCP
 * connection of the pod (original_dst recovers where it was going).
 */
export const OUTBOUND_PORT = 15001;

/**
 * Transparent mode: the one inbound listener (names.ts INBOUND_LISTENER),
 * where iptables redirects every inbound TCP connection of the pod; one filter
 * chain per port the application listens on. So no application port may be it.
 */
export const INBOUND_PORT = 15006;

/**
 * The sidecar's Prometheus endpoint (docs/telemetry.md): a listener of its
 * own on every address of the pod (the admin stays on loopback), serving
 * only `/stats/prometheus` (STATS_PATH), the golden-metric stats of the
 * admin's page, and `/ready` (READY_PATH). Istio's sidecars use the same port for the same thing.
 */
export const STATS_PORT = 15090;
export const STATS_PATH = '/stats/prometheus';
/**
 * Also on the stats listener: Envoy's own readiness (the admin's `/ready`:
 * 200 `LIVE` once its first xDS config is in and warmed, 503 before), for a
 * kubelet's readiness probe, which cannot reach the loopback admin. A
 * gateway pod uses it so that its Service sends it nothing before its
 * listeners exist (inject/gateway-deployment.ts).
 */
export const READY_PATH = '/ready';

/** The pod annotations Prometheus's usual Kubernetes scrape config reads; `trellis inject` points them at STATS_PORT. */
export const SCRAPE_ANNOTATIONS = { scrape: 'prometheus.io/scrape', port: 'prometheus.io/port', path: 'prometheus.io/path' } as const;

/** The sidecar's own ports: never redirected inbound (a redirect of 15006 to itself would loop; a scrape of 15090 must reach Envoy). */
export const PROXY_PORTS: readonly number[] = [ADMIN_PORT, OUTBOUND_PORT, INBOUND_PORT, STATS_PORT];

/**
 * The uid Envoy and the bootstrap init container run as. iptables lets this
 * uid's outbound connections through unredirected: Envoy's own upstream
 * connections would otherwise come back into Envoy.
 */
export const PROXY_UID = 1337;

/**
 * Transparent mode: the source address of the inbound passthrough's
 * connections to the application (a port the mesh does not serve). The
 * redirect sends the sidecar's own connections to its pod's address (a call
 * to a Service whose endpoint is this very pod) back through the inbound
 * listener, so they meet mTLS as from any other pod; connections from this
 * address are let through, or the passthrough would come back around.
 */
export const INBOUND_PASSTHROUGH_SOURCE = '127.0.0.6';

/**
 * Where the pod's projected service-account token (audience identity/
 * token-review.ts DEFAULT_TOKEN_AUDIENCE) is mounted, and its file:
 * `trellis bootstrap --token-file` reads it there.
 */
export const TOKEN_DIR = '/var/run/secrets/trellis';
/** The token's path inside TOKEN_DIR (the projected volume's `path`). */
export const TOKEN_FILE_NAME = 'token';
export const TOKEN_PATH = `${TOKEN_DIR}/${TOKEN_FILE_NAME}`;

/** Where the bootstrap init container writes the Envoy bootstrap and the sidecar reads it (`envoy -c`). */
export const BOOTSTRAP_DIR = '/etc/trellis';
export const BOOTSTRAP_PATH = `${BOOTSTRAP_DIR}/envoy.yaml`;

/**
 * Node metadata keys `trellis bootstrap` writes and the translator reads
 * (translate/proxy.ts): how this sidecar is wired to its workload.
 */
export const NODE_METADATA = {
  workload: 'trellis.workload', // "ns/pod"
  mode: 'trellis.mode', // explicit | transparent
  outboundAddress: 'trellis.outbound_address', // "127.0.0.1:15001"
  appPorts: 'trellis.app_ports', // "8080=18080,9090=19090"
  appAddress: 'trellis.app_address',
  /** A Trellis gateway (`trellis bootstrap --gateway`): "ns/name" of the Gateway it serves; no workload then. */
  gateway: 'trellis.gateway',
  /** A gateway's listen address (its listeners' ports are the Gateway's). */
  gatewayAddress: 'trellis.gateway_address',
} as const;
