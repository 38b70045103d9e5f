/**
 * `trellis explain`: what the served resources do with one request, as Envoy
 * evaluates them. Pure: it reads the resources Trellis last sent (the
 * admin API's proxy config views, exactly what `config-dump` shows) and the
 * intents' origins, never the model, so the answer is about what the proxies
 * hold. Steps: the caller's outbound listener -> route configuration ->
 * virtual host (domains) -> first matching route -> cluster(s) and weights,
 * timeout and retries -> each cluster's TLS (SAN checked) and endpoints (EDS)
 * -> for each endpoint, the destination proxy's inbound listener and its RBAC.
 *
 * Two facts are not in the served resources, and come from elsewhere: which
 * TrafficPolicy applies to a whole service (a route names only a route
 * override's policy): the intents API's `appliesTo`; and, in transparent
 * mode, which proxy an endpoint's IP belongs to (its inbound listener binds
 * 0.0.0.0): the proxies with the identity the caller checks (the cluster's
 * SAN) and a filter chain for the endpoint's port, which must decide alike.
 */
import { limitsOf, type LimitsExplanation } from './limits.ts';
import { OperatorError } from '../../errors.ts';
import type { HeldResourceView, ProxyConfigView } from '../proxies.ts';
import { routeMatch, selectVirtualHost, type Headers } from './match.ts';
import { evaluateRbac, type RbacDecision } from './rbac.ts';
import { stringMatch } from './match.ts';
import { inboundChain, outboundChain, rbacFilters, routeConfigOf, sanMatchersOf, tlsOf, transparentInboundChain, type InboundChain, type Json } from './resources.ts';

/** A request that cannot be explained (unknown URL, no route): one line, exit 1. */
export class ExplainError extends OperatorError {}

export interface ExplainRequest {
  url: string;
  method: string;
  /** as given with -H, names in any case */
  headers: ReadonlyArray<[string, string]>;
}

export interface IntentOrigin {
  kind: string;
  namespace: string;
  name: string;
  origin?: { file: string; line?: number };
  /** TrafficPolicy: the service ports it applies to (GET /api/v1/intents) */
  appliesTo?: ReadonlyArray<{ namespace: string; service: string; port: number }>;
}

export interface ExplainInput {
  source: ProxyConfigView;
  /** the caller's SPIFFE ID (its proven identity, or its certificate's URI SAN) */
  sourceIdentity: string | undefined;
  /** every connected proxy's config, for the destination's inbound side */
  proxies: readonly ProxyConfigView[];
  /** each connected proxy's SPIFFE ID, by node: transparent mode's destinations are found by identity */
  identities?: ReadonlyMap<string, string | undefined>;
  intents: readonly IntentOrigin[];
  request: ExplainRequest;
}

export interface EndpointExplanation {
  address: string;
  health: string;
  locality: string;
  destination?: {
    node: string;
    listener: string;
    mtlsRequired: boolean;
    rbac: RbacDecision[];
    allowed: boolean;
    /** transparent mode, several proxies may own the endpoint (same identity and port): all of them, which decide alike */
    candidates?: string[];
  };
}

export interface ClusterExplanation {
  name: string;
  weight: number;
  percent: number;
  mtls?: { sni?: string; sans: string[] };
  endpoints: EndpointExplanation[];
}

export interface Explanation {
  request: { method: string; authority: string; path: string; headers: Record<string, string> };
  source: { node: string; identity?: string };
  listener: string;
  routeConfiguration: string;
  virtualHost: string;
  route: { name: string; index: number; match: Json; skipped: string[] };
  timeout?: string;
  retryPolicy?: Json;
  /** Faults and rate limits the caller's sidecar applies on this route (issue 15). */
  limits: LimitsExplanation;
  clusters: ClusterExplanation[];
  decision: 'allow' | 'deny' | 'unknown';
  intents: Array<IntentOrigin & { why: string }>;
  notes: string[];
}

const held = (view: ProxyConfigView, type: string): HeldResourceView[] => view.types[type] ?? [];

function parseRequest(req: ExplainRequest) {
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    throw new ExplainError(`${req.url}: not a URL (expected http://service.namespace:port/path)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ExplainError(`${req.url}: expected http:// (the sidecar takes plain HTTP from its app)`);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const headers = new Map<string, string>(req.headers.map(([k, v]) => [k.toLowerCase(), v]));
  const authority = headers.get('host') ?? url.host;
  headers.delete('host');
  headers.set(':authority', authority);
  headers.set(':method', req.method.toUpperCase());
  headers.set(':path', url.pathname + url.search);
  headers.set(':scheme', url.protocol.slice(0, -1));
  return { url, port, authority, path: url.pathname, headers: headers as Headers };
}

export function explain(input: ExplainInput): Explanation {
  const { source, request } = input;
  const req = parseRequest(request);
  const notes: string[] = [];
  const intents: Explanation['intents'] = [];
  const cite = (kind: string, namespace: string, name: string, why: string) => {
    const found = input.intents.find((i) => i.kind === kind && i.namespace === namespace && i.name === name);
    if (!intents.some((i) => i.kind === kind && i.namespace === namespace && i.name === name && i.why === why)) intents.push({ kind, namespace, name, origin: found?.origin, why });
  };

  const out = outboundChain(held(source, 'lds').map((r) => r.resource), req.port);
  if (!out) throw new ExplainError(`${source.node} holds no outbound listener for port ${req.port}`);
  const rc = routeConfigOf(out.hcm, held(source, 'rds').map((r) => r.resource));
  if (!rc) throw new ExplainError(`${source.node}'s listener ${out.listener} names route configuration "${out.hcm.rds ? String((out.hcm.rds as Json).route_config_name) : '?'}", which it does not hold`);
  const vhosts = (rc.virtual_hosts as Json[] | undefined) ?? [];
  const vhost = selectVirtualHost(vhosts, req.authority);
  if (!vhost) {
    throw new ExplainError(`no virtual host of ${source.node}'s route configuration "${String(rc.name)}" matches ${req.authority} (it routes: ${vhosts.map((v) => String(v.name)).join(', ') || 'nothing'}); in Strict mode a service appears only when a TrafficTarget lets the caller reach it`);
  }
  // names.ts virtualHostName: `<service>.<namespace>:<port>`
  const [, vhostService = '', vhostNs = '', vhostPort = ''] = /^([^.]+)\.([^:]+):(\d+)$/.exec(String(vhost.name)) ?? [];
  const routes = (vhost.routes as Json[] | undefined) ?? [];
  const skipped: string[] = [];
  let index = -1;
  for (const [i, r] of routes.entries()) {
    const v = routeMatch((r.match as Json) ?? {}, req.path, req.headers, req.url.searchParams);
    if (v.unknown) notes.push(`route ${String(r.name ?? i)}: ${v.unknown}; taken as not matching`);
    if (v.matched) {
      index = i;
      break;
    }
    skipped.push(String(r.name ?? `#${i}`));
  }
  if (index < 0) throw new ExplainError(`no route of virtual host ${String(vhost.name)} matches ${req.headers.get(':method')} ${req.path} (Envoy answers 404)`);
  const route = routes[index]!;
  const routeName = String(route.name ?? `#${index}`);
  const intentOfRoute = /^(split|policy)\/([^/]+)\//.exec(routeName);
  if (intentOfRoute) cite(intentOfRoute[1] === 'split' ? 'TrafficSplit' : 'TrafficPolicy', vhostNs, intentOfRoute[2]!, `route ${routeName}`);
  // names.ts meshRouteName: `<kind>/<ns>/<route>/<rule>/<match>`; its namespace may differ from the service's (a consumer route).
  const meshRoute = /^(httproute|grpcroute)\/([^/]+)\/([^/]+)\//.exec(routeName);
  if (meshRoute) cite(meshRoute[1] === 'httproute' ? 'HTTPRoute' : 'GRPCRoute', meshRoute[2]!, meshRoute[3]!, `route ${routeName}: its match, backends and weights`);
  const applying = (kind: string) => input.intents.filter((i) => i.kind === kind && i.appliesTo?.some((t) => t.namespace === vhostNs && t.service === vhostService && t.port === Number(vhostPort)));
  for (const p of applying('TrafficPolicy')) {
    const what = intentOfRoute?.[1] === 'policy' ? `what route ${routeName} does not override, and the cluster settings` : `timeout and retries of route ${routeName}, and the cluster settings`;
    cite('TrafficPolicy', p.namespace, p.name, `applies to service ${vhostNs}/${vhostService} port ${vhostPort}: ${what}`);
  }
  const action = route.route as Json | undefined;
  // A canary's or an override's route names its intent; the weights of any other route are the split without matches'.
  // A Gateway API route's weights are its own: a TrafficSplit does not apply to a service a route has taken over.
  if (intentOfRoute?.[1] !== 'split' && !meshRoute && action?.weighted_clusters) {
    for (const sp of applying('TrafficSplit')) cite('TrafficSplit', sp.namespace, sp.name, `weights of route ${routeName}`);
  }
  if (!action) throw new ExplainError(`route ${routeName} of ${String(vhost.name)} is not a forwarding route (${Object.keys(route).filter((k) => k !== 'match' && k !== 'name').join(', ')})`);

  const weighted = ((action.weighted_clusters as Json | undefined)?.clusters as Json[] | undefined) ?? (action.cluster ? [{ name: action.cluster, weight: 1 }] : []);
  const total = weighted.reduce((s, c) => s + Number(c.weight ?? 0), 0) || 1;
  const clusters = weighted.map((w) => explainCluster(input, String(w.name), Number(w.weight ?? 0), total, req, cite, notes));
  const decisions = clusters.flatMap((c) => c.endpoints.map((e) => e.destination?.allowed));
  const decision = decisions.length > 0 && decisions.every((d) => d === true) ? 'allow' : decisions.some((d) => d === false) ? 'deny' : 'unknown';
  if (decision === 'unknown') notes.push('no connected proxy serves these endpoints: the authorization at the destination is unknown');
  return {
    request: { method: req.headers.get(':method')!, authority: req.authority, path: req.url.pathname + req.url.search, headers: Object.fromEntries(request.headers.map(([k, v]) => [k.toLowerCase(), v])) },
    source: { node: source.node, identity: input.sourceIdentity },
    listener: out.listener,
    routeConfiguration: String(rc.name),
    virtualHost: String(vhost.name),
    route: { name: routeName, index, match: (route.match as Json) ?? {}, skipped },
    timeout: action.timeout === undefined ? '15s (Envoy default)' : String(action.timeout),
    retryPolicy: action.retry_policy as Json | undefined,
    limits: limitsOf(vhost, route),
    clusters,
    decision,
    intents,
    notes,
  };
}

function explainCluster(
  input: ExplainInput,
  name: string,
  weight: number,
  total: number,
  req: ReturnType<typeof parseRequest>,
  cite: (kind: string, namespace: string, name: string, why: string) => void,
  notes: string[],
): ClusterExplanation {
  const cluster = held(input.source, 'cds').find((r) => r.name === name)?.resource;
  const out: ClusterExplanation = { name, weight, percent: Math.round((weight / total) * 1000) / 10, endpoints: [] };
  if (!cluster) {
    notes.push(`cluster ${name} is not held by ${input.source.node}: Envoy answers 503`);
    return out;
  }
  out.mtls = tlsOf(cluster);
  const sans = out.mtls ? sanMatchersOf(cluster) : [];
  const edsName = String(((cluster.eds_cluster_config as Json | undefined)?.service_name as string | undefined) ?? name);
  const cla = cluster.type === 'EDS' ? held(input.source, 'eds').find((r) => r.name === edsName)?.resource : (cluster.load_assignment as Json | undefined);
  if (!cla) notes.push(`cluster ${name}: no endpoints held (EDS ${edsName})`);
  for (const group of ((cla?.endpoints as Json[] | undefined) ?? [])) {
    const locality = Object.values((group.locality as Json | undefined) ?? {}).filter(Boolean).join('/') || '-';
    for (const lb of (group.lb_endpoints as Json[] | undefined) ?? []) {
      const sock = (((lb.endpoint as Json | undefined)?.address as Json | undefined)?.socket_address as Json | undefined) ?? {};
      const e: EndpointExplanation = { address: `${String(sock.address)}:${Number(sock.port_value)}`, health: String(lb.health_status ?? 'UNKNOWN (taken as healthy)'), locality };
      e.destination = destinationOf(input, String(sock.address), Number(sock.port_value), req, out.mtls !== undefined, sans, cite, notes);
      out.endpoints.push(e);
    }
  }
  return out;
}

/**
 * The proxy whose inbound side serves `address:port`, and what its RBAC says
 * of this caller. Explicit mode: the listener bound to that address and port.
 * Transparent mode: the proxies with the identity the caller checks and a
 * filter chain for the port; their decision when they all decide alike.
 */
function destinationOf(
  input: ExplainInput,
  address: string,
  port: number,
  req: ReturnType<typeof parseRequest>,
  mtls: boolean,
  sans: readonly Json[],
  cite: (kind: string, namespace: string, name: string, why: string) => void,
  notes: string[],
): EndpointExplanation['destination'] {
  const principal = mtls ? input.sourceIdentity : undefined;
  const decide = (proxy: ProxyConfigView, chain: InboundChain) => {
    const rbac = rbacFilters(chain.hcm).map((f) => evaluateRbac(f, { path: req.path, headers: req.headers, destinationPort: port, principal }));
    return { node: proxy.node, listener: chain.listener, mtlsRequired: chain.mtlsRequired, rbac, allowed: rbac.every((d) => d.allowed) && (!chain.mtlsRequired || mtls) };
  };
  const citeDecision = (d: NonNullable<EndpointExplanation['destination']>) => {
    for (const r of d.rbac) {
      for (const p of r.matchedPolicies) {
        const [ns, name] = p.split('/');
        if (ns && name) cite('TrafficTarget', ns, name, `${r.action === 'DENY' ? 'denies' : 'allows'} ${principal ?? 'the caller'} at the destination`);
      }
    }
    return d;
  };
  for (const proxy of input.proxies) {
    const chain = inboundChain(held(proxy, 'lds').map((r) => r.resource), address, port);
    if (chain) return citeDecision(decide(proxy, chain));
  }
  const hasIdentity = (node: string) => {
    if (sans.length === 0) return true;
    const id = input.identities?.get(node);
    return id !== undefined && sans.some((m) => (m.san_type === undefined || m.san_type === 'URI') && m.matcher !== undefined && stringMatch(m.matcher as Json, id).matched);
  };
  const candidates = input.proxies.flatMap((proxy) => {
    const chain = hasIdentity(proxy.node) ? transparentInboundChain(held(proxy, 'lds').map((r) => r.resource), port) : undefined;
    return chain ? [decide(proxy, chain)] : [];
  });
  if (candidates.length === 0) return undefined;
  const nodes = candidates.map((c) => c.node);
  const who = `${sans.length > 0 ? 'the identity the caller checks' : 'no identity checked (plaintext)'} and a filter chain for port ${port}`;
  if (candidates.length > 1 && new Set(candidates.map((c) => `${c.allowed}|${JSON.stringify(c.rbac.map((r) => r.matchedPolicies))}`)).size > 1) {
    notes.push(`endpoint ${address}:${port}: transparent mode, its proxy is one of ${nodes.join(', ')} (${who}), and they decide differently: authorization unknown`);
    return undefined;
  }
  if (candidates.length > 1) notes.push(`endpoint ${address}:${port}: transparent mode, its proxy is one of ${nodes.join(', ')} (${who}); they all decide alike`);
  return citeDecision({ ...candidates[0]!, ...(candidates.length > 1 ? { candidates: nodes } : {}) });
}
