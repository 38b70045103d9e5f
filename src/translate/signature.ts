/**
 * Everything one proxy's translation reads, as a short string: equal
 * signatures mean equal output, so a model change re-translates only the
 * proxies whose signature moved (DESIGN: "an event touches only the proxies
 * it affects"). Digests are computed once per model object and shared by
 * every proxy; a proxy's signature is then a hash of its own context and a
 * few string joins.
 *
 * A digest hashes whole model objects as the model resolved them — the
 * services in the proxy's scope with their splits, its workload, the rules
 * its inbound side enforces, the mesh settings, the proxy context — never a
 * list of picked fields, so a field added to the model or to the proxy
 * context is covered without a change here. Left out, for one reason:
 * endpoint lists travel in the mesh-wide endpoint set (publisher.ts), never
 * in a proxy's own resources. (Facts derived from endpoints, such as a
 * service's identities or a workload's zone, are in.)
 */
import { createHash } from 'node:crypto';
import type { AccessRule, MeshModel, MeshService, MeshSettings, ServicePort, Workload } from '../model/types.ts';
import type { ProxyContext } from './proxy.ts';
import { inboundRules, visibleServices } from './scope.ts';

/** Model objects are plain data (model/types.ts): their JSON is their content. */
function hash(value: unknown): string {
  return hashJson(JSON.stringify(value));
}

function hashJson(json: string): string {
  return createHash('sha256').update(json).digest('base64url').slice(0, 16);
}

/** The proxy context holds Maps, which JSON.stringify alone would write as `{}`. */
function hashWithMaps(value: object): string {
  return hashJson(JSON.stringify(value, (_key, v: unknown) => (v instanceof Map ? [...v] : v)));
}

/** One digest per model object: a thousand proxies reading it pay for it once. */
function digestOnce<T extends object>(memo: WeakMap<T, string>, o: T, content: () => unknown): string {
  let d = memo.get(o);
  if (d === undefined) {
    d = hash(content());
    memo.set(o, d);
  }
  return d;
}

const portDigests = new WeakMap<ServicePort, string>();

/** A service port as resolved (with its own and its cluster's policy), without its endpoint list. */
export function portDigest(p: ServicePort): string {
  return digestOnce(portDigests, p, () => ({ ...p, endpoints: undefined }));
}

const serviceDigests = new WeakMap<MeshService, string>();

/**
 * What a service contributes to its callers' clusters and routes: the
 * service as resolved, its ports as `portDigest`, and the splits rooted at it
 * (their backends are in the scope too: scope.ts).
 */
function serviceDigest(model: MeshModel, s: MeshService): string {
  return digestOnce(serviceDigests, s, () => [{ ...s, ports: s.ports.map(portDigest) }, s.splits.map((k) => model.splits.get(k))]);
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

/** A workload carries what its inbound side serves (`servedPorts`), so it is its own digest. */
const workloadDigests = new WeakMap<Workload, string>();
const rulesDigests = new WeakMap<readonly AccessRule[], string>();
const meshDigests = new WeakMap<MeshSettings, string>();

export function proxySignature(model: MeshModel, proxy: ProxyContext): string {
  const { workload: w, ...context } = proxy;
  const rules = w && inboundRules(model, w);
  return [
    hashWithMaps(context),
    digestOnce(meshDigests, model.mesh, () => model.mesh),
    scopeOf(model, proxy).digest,
    w ? digestOnce(workloadDigests, w, () => w) : '-',
    rules ? digestOnce(rulesDigests, rules, () => rules) : '-',
  ].join('|');
}
