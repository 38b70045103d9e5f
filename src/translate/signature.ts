/**
 * Everything one proxy's translation reads, as a short string: equal
 * signatures mean equal output, so a model change re-translates only the
 * proxies whose signature moved (DESIGN: "an event touches only the proxies
 * it affects"). Digests are computed once per model object and shared by
 * every proxy; a proxy's signature is then its own context and a few
 * string joins.
 *
 * A digest hashes whole model objects as the model resolved them — the
 * services in the proxy's scope with their splits, its workload, the rules
 * its inbound side enforces, the mesh settings, the proxy context — never a
 * list of picked fields, so a field added to the model or to the proxy
 * context is covered without a change here. Left out, for one reason:
 * endpoint lists travel in the mesh-wide endpoint set (publisher.ts), never
 * in a proxy's own resources. (Facts derived from endpoints, such as a
 * service's identities or a workload's zone, are in; so are a TCP port's
 * endpoint addresses, which transparent mode's outbound filter chains match
 * on: tcp-outbound.ts; and for a transparent-mode sidecar only, the HTTP
 * ports' endpoint addresses, which its chains match on too:
 * http-destinations.ts.)
 */
import { createHash } from 'node:crypto';
import type { AccessRule, MeshGateway, MeshModel, MeshService, MeshSettings, ServicePort, Workload } from '../model/types.ts';
import type { ProxyContext } from './proxy.ts';
import { inboundRules, visibleServices } from './scope.ts';

/** Of JSON texts: model objects are plain data (model/types.ts), so their JSON is their content. */
function hash(json: readonly string[]): string {
  return createHash('sha256').update(json.join('\0')).digest('base64url').slice(0, 16);
}

/** Once per model object: a thousand proxies reading it pay for it once. */
function once<T extends object, V>(memo: WeakMap<T, V>, o: T, compute: () => V): V {
  let v = memo.get(o);
  if (v === undefined) {
    v = compute();
    memo.set(o, v);
  }
  return v;
}

/**
 * A service port as resolved, without its endpoint list. Its cluster's
 * policy, when it is the port's own (the same object), is written once.
 */
function portContent(p: ServicePort): string {
  return once(portContents, p, () => {
    const { endpoints, policy, clusterPolicy, ...rest } = p;
    const addresses = p.protocol === 'tcp' || p.protocol === 'auto' ? JSON.stringify(endpoints.map((e) => `${e.address}:${e.port}`)) : '';
    return `${JSON.stringify(rest)}\0${JSON.stringify(policy ?? null)}\0${clusterPolicy === policy ? '=' : JSON.stringify(clusterPolicy ?? null)}\0${addresses}`;
  });
}

/** Read twice per port and model version: by its service's digest and by its cluster's memo key (portDigest). */
const portContents = new WeakMap<ServicePort, string>();

const portDigests = new WeakMap<ServicePort, string>();

/** `portContent` as a digest, for memo keys (computed only when a translation asks). */
export function portDigest(p: ServicePort): string {
  return once(portDigests, p, () => hash([portContent(p)]));
}

const serviceDigests = new WeakMap<MeshService, string>();

/**
 * What a service contributes to its callers' clusters and routes: the
 * service as resolved, its ports as `portContent`, and the splits rooted at
 * it (their backends are in the scope too: scope.ts). A digest, once per
 * service: in strict mode a thousand overlapping scopes each hash their
 * services' digests, not their content again.
 */
export function serviceDigest(model: MeshModel, s: MeshService): string {
  return once(serviceDigests, s, () => hash([JSON.stringify([{ ...s, ports: undefined }, s.splits.map((k) => model.splits.get(k))]), ...s.ports.map(portContent)]));
}

const scopeMemo = new WeakMap<MeshModel, Map<string, { services: MeshService[]; digest: string }>>();

/** The services a proxy may call, and their digest: shared by every proxy of one identity (or all, when permissive). */
export function scopeOf(model: MeshModel, proxy: ProxyContext): { services: MeshService[]; digest: string } {
  const key = model.mesh.authorization === 'permissive' ? '*' : (proxy.workload?.identity ?? '-');
  let byKey = scopeMemo.get(model);
  if (!byKey) scopeMemo.set(model, (byKey = new Map()));
  let scope = byKey.get(key);
  if (!scope) {
    const services = visibleServices(model, proxy);
    scope = { services, digest: hash(services.map((s) => serviceDigest(model, s))) };
    byKey.set(key, scope);
  }
  return scope;
}

const gatewayScopes = new WeakMap<MeshModel, Map<string, { services: MeshService[]; digest: string }>>();

/**
 * The services a gateway calls: its routes' backends that exist and their
 * mirrors, whatever the mesh's authorization mode (the backends' sidecars
 * decide whether to admit the gateway). One object per model version and
 * gateway, like a scope of scopeOf.
 */
export function gatewayScopeOf(model: MeshModel, gateway: MeshGateway): { services: MeshService[]; digest: string } {
  let byKey = gatewayScopes.get(model);
  if (!byKey) gatewayScopes.set(model, (byKey = new Map()));
  let scope = byKey.get(gateway.key);
  if (!scope) {
    const keys = new Set<string>();
    for (const p of gateway.ports) {
      for (const l of p.listeners) {
        for (const r of l.routes) {
          for (const rule of r.rules) {
            for (const b of rule.backends) if (b.found) keys.add(`${b.namespace}/${b.name}`);
            for (const f of rule.filters) if (f.type === 'RequestMirror') keys.add(`${f.backend.namespace}/${f.backend.name}`);
          }
        }
        for (const r of l.streams) for (const b of r.backends) if (b.found) keys.add(`${b.namespace}/${b.name}`);
      }
    }
    const services = [...keys].sort().map((k) => model.services.get(k)).filter((x): x is MeshService => x !== undefined);
    scope = { services, digest: hash(services.map((x) => serviceDigest(model, x))) };
    byKey.set(gateway.key, scope);
  }
  return scope;
}

const gatewayDigests = new WeakMap<MeshGateway, string>();

/** A workload carries what its inbound side serves (`servedPorts`), so it is its own digest. */
const workloadDigests = new WeakMap<Workload, string>();
const rulesDigests = new WeakMap<readonly AccessRule[], string>();
const meshDigests = new WeakMap<MeshSettings, string>();
const externalDigests = new WeakMap<MeshModel['externalServices'], string>();

/** The proxy context but its workload, as JSON; its Maps (top-level fields) as entry lists, which JSON.stringify alone writes as `{}`. */
function contextJson(context: Omit<ProxyContext, 'workload'>): string {
  return JSON.stringify(Object.entries(context).map(([k, v]: [string, unknown]) => [k, v instanceof Map ? [...v] : v]));
}

const httpAddressDigests = new WeakMap<object, string>();

/** The HTTP ports' endpoint addresses of a scope: what a transparent-mode sidecar's outbound chains match (http-destinations.ts). */
function httpAddressesDigest(scope: { services: readonly MeshService[] }): string {
  return once(httpAddressDigests, scope, () =>
    hash(scope.services.flatMap((s) => s.ports.filter((p) => p.protocol !== 'tcp' && p.protocol !== 'auto').map((p) => JSON.stringify(p.endpoints.map((e) => `${e.address}:${e.port}`))))),
  );
}

export function proxySignature(model: MeshModel, proxy: ProxyContext): string {
  const { workload: w, gateway, ...context } = proxy;
  if (gateway) {
    // A gateway's own resources: its Gateway (listeners, routes, certificates), the services it calls, the mesh.
    return [
      contextJson(context),
      once(meshDigests, model.mesh, () => hash([JSON.stringify(model.mesh)])),
      once(gatewayDigests, gateway, () => hash([JSON.stringify(gateway)])),
      gatewayScopeOf(model, gateway).digest,
    ].join('|');
  }
  const rules = w && inboundRules(model, w);
  const scope = scopeOf(model, proxy);
  return [
    contextJson(context),
    once(meshDigests, model.mesh, () => hash([JSON.stringify(model.mesh)])),
    scope.digest,
    proxy.kind === 'envoy' && proxy.mode === 'transparent' ? httpAddressesDigest(scope) : '-',
    w ? once(workloadDigests, w, () => hash([JSON.stringify(w)])) : '-',
    rules ? once(rulesDigests, rules, () => hash([JSON.stringify(rules)])) : '-',
    // Every sidecar may call every ExternalService (or is refused it by its own config): egress.ts.
    once(externalDigests, model.externalServices, () => hash([JSON.stringify([...model.externalServices.values()])])),
  ].join('|');
}
