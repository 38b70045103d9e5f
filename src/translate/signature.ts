/**
 * Everything one proxy's translation depends on, as a short string: equal
 * signatures mean equal output, so a model change re-translates only the
 * proxies whose signature moved (DESIGN: "an event touches only the proxies
 * it affects"). Digests are computed once per model object and shared by
 * every proxy; a proxy's signature is then a few string joins.
 *
 * Endpoint addresses are deliberately left out: they travel in the
 * mesh-wide endpoint set (publisher.ts), never in a proxy's own resources.
 */
import { createHash } from 'node:crypto';
import type { AccessRule, MeshModel, MeshService, Workload } from '../model/types.ts';
import type { ProxyContext } from './proxy.ts';
import { visibleServices } from './scope.ts';

function hash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('base64url').slice(0, 16);
}

const serviceDigests = new WeakMap<MeshService, string>();

/** What a service contributes to clusters, routes and inbound listeners (its endpoints' addresses excluded). */
export function serviceDigest(model: MeshModel, s: MeshService): string {
  let d = serviceDigests.get(s);
  if (d === undefined) {
    d = hash([
      s.key,
      s.clusterIP,
      s.identities,
      s.ports.map((p) => [p.name, p.port, p.targetPort, p.protocol, p.policy]),
      s.splits.map((k) => model.splits.get(k)),
    ]);
    serviceDigests.set(s, d);
  }
  return d;
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
    // Splits name backends and policies are inherited along them, so the
    // digest covers every split of the model that touches a visible service.
    scope = { services, digest: hash(services.map((s) => serviceDigest(model, s))) };
    byKey.set(key, scope);
  }
  return scope;
}

const workloadDigests = new WeakMap<Workload, string>();

function workloadDigest(model: MeshModel, w: Workload): string {
  let d = workloadDigests.get(w);
  if (d === undefined) {
    // Inbound listeners depend on the ports of the services the pod backs, not on their policies or splits.
    d = hash([w, w.services.map((k) => model.services.get(k)?.ports.map((p) => [p.name, p.port, p.targetPort, p.protocol]) ?? '-')]);
    workloadDigests.set(w, d);
  }
  return d;
}

const rulesDigests = new WeakMap<readonly AccessRule[], string>();

function rulesDigest(rules: readonly AccessRule[] | undefined): string {
  if (!rules) return '-';
  let d = rulesDigests.get(rules);
  if (d === undefined) {
    d = hash(rules);
    rulesDigests.set(rules, d);
  }
  return d;
}

export function proxySignature(model: MeshModel, proxy: ProxyContext): string {
  const w = proxy.workload;
  const strict = model.mesh.authorization === 'strict';
  return [
    proxy.kind,
    proxy.mode,
    `${proxy.outbound.address}:${proxy.outbound.port}`,
    proxy.inboundAddress,
    proxy.appAddress,
    [...proxy.appPorts].join(','),
    model.mesh.authorization,
    model.mesh.trustDomain,
    proxy.zone ?? '-',
    scopeOf(model, proxy).digest,
    w ? workloadDigest(model, w) : '-',
    w && strict ? rulesDigest(model.accessByDestination.get(w.identity)) : '-',
  ].join('|');
}
