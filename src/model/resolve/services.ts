/**
 * Services with their endpoints: each service port's endpoints come from the
 * EndpointSlices labelled with the service's name, matched by port name as
 * Kubernetes does (the slice port carries the service port's name and the
 * resolved target port number).
 */
import type { EndpointSliceSpec } from '../kinds/endpoint-slice.ts';
import { SERVICE_NAME_LABEL } from '../kinds/endpoint-slice.ts';
import type { ServiceSpec } from '../kinds/service.ts';
import { childPath } from '../field-path.ts';
import type { Endpoint, MeshService, ObjectKey, ServicePort } from '../types.ts';
import { objectKey, type Book, type Entry } from './book.ts';
import type { WorkloadDraft } from './workloads.ts';

/** A service before splits and policies are attached. */
export type ServiceDraft = Omit<MeshService, 'splits' | 'routes'>;

export interface ServicesResult {
  services: Map<ObjectKey, ServiceDraft>;
  /** workload -> services that select it or list it as an endpoint */
  servicesOf: Map<ObjectKey, Set<ObjectKey>>;
  /** workload -> zone, from its endpoints */
  zoneOf: Map<ObjectKey, string>;
  /** SPIFFE ID -> services whose endpoints run as it */
  servicesByIdentity: Map<string, Set<ObjectKey>>;
}

export function resolveServices(
  services: readonly Entry<ServiceSpec>[],
  slices: readonly Entry<EndpointSliceSpec>[],
  workloads: ReadonlyMap<ObjectKey, WorkloadDraft>,
  book: Book,
): ServicesResult {
  const result: ServicesResult = { services: new Map(), servicesOf: new Map(), zoneOf: new Map(), servicesByIdentity: new Map() };
  const byIp = new Map<string, WorkloadDraft>();
  // Indexes, so the cost stays linear in services + workloads.
  const byLabel = new Map<string, WorkloadDraft[]>();
  for (const w of workloads.values()) {
    for (const ip of w.ips) if (!byIp.has(`${w.namespace} ${ip}`)) byIp.set(`${w.namespace} ${ip}`, w);
    for (const [k, v] of Object.entries(w.labels)) {
      const id = `${w.namespace} ${k}=${v}`;
      const list = byLabel.get(id);
      if (list) list.push(w);
      else byLabel.set(id, [w]);
    }
  }
  const slicesOf = new Map<ObjectKey, Entry<EndpointSliceSpec>[]>();
  const accepted = new Set(services.filter((e) => !book.rejected(e)).map((e) => e.key));
  for (const s of slices) {
    if (book.rejected(s) || s.spec.service === undefined || s.spec.addressType === 'FQDN') continue;
    const key = objectKey(s.namespace, s.spec.service);
    if (!accepted.has(key)) {
      book.warn(s, childPath('metadata.labels', SERVICE_NAME_LABEL), 'RefNotFound', `service "${s.spec.service}" does not exist in namespace "${s.namespace}", so these endpoints are not used; fix the label or add the service`);
      continue;
    }
    const list = slicesOf.get(key);
    if (list) list.push(s);
    else slicesOf.set(key, [s]);
  }
  const link = (map: Map<string, Set<ObjectKey>>, k: string, service: ObjectKey) => {
    const set = map.get(k);
    if (set) set.add(service);
    else map.set(k, new Set([service]));
  };

  for (const e of services) {
    if (book.rejected(e)) continue;
    const own = slicesOf.get(e.key) ?? [];
    checkSlicePorts(own, e.spec, book);
    const { service, linkOrder } = resolvedService(e, own, workloads, byIp);
    // In the order the ports are written (the last endpoint of a workload names its zone).
    for (const endpoints of linkOrder) {
      for (const ep of endpoints) {
        if (ep.workload) {
          link(result.servicesOf, ep.workload, e.key);
          if (ep.zone !== undefined) result.zoneOf.set(ep.workload, ep.zone);
        }
        if (ep.identity) link(result.servicesByIdentity, ep.identity, e.key);
      }
    }
    const [first, ...rest] = Object.entries(e.spec.selector ?? {});
    if (first) {
      for (const w of byLabel.get(`${e.namespace} ${first[0]}=${first[1]}`) ?? []) {
        if (rest.every(([k, v]) => w.labels[k] === v)) link(result.servicesOf, w.key, e.key);
      }
    }
    result.services.set(e.key, service);
  }
  return result;
}

/** What a service's endpoints read of a workload: the same for the same workload found the same way. */
interface Found {
  /** `pod <namespace/name>` or `ip <namespace> <address>`: how it was looked up. */
  by: string;
  key?: ObjectKey;
  identity?: string;
  sidecar?: boolean;
}

interface Resolved {
  service: ServiceDraft;
  /** Each TCP port's endpoints in the order the ports are written. */
  linkOrder: readonly (readonly Endpoint[])[];
}

/**
 * A service resolved before, by its decoded spec (the same object for the same
 * content: kinds/decode-cache.ts), with what it read besides: its name, its
 * labels, its slices (their decoded specs) and each workload its endpoints
 * found. Issue 14: an edit elsewhere resolved every service's endpoints again
 * (12,000 on the 1,000-service mesh); a hit also keeps the service's ports the
 * very objects they were, so the model's sharing (share.ts) meets them again.
 */
const resolvedBefore = new WeakMap<ServiceSpec, { key: ObjectKey; labels: unknown; slices: readonly EndpointSliceSpec[]; found: readonly Found[]; resolved: Resolved }>();

function resolvedService(
  e: Entry<ServiceSpec>,
  own: readonly Entry<EndpointSliceSpec>[],
  workloads: ReadonlyMap<ObjectKey, WorkloadDraft>,
  byIp: ReadonlyMap<string, WorkloadDraft>,
): Resolved {
  const find = (by: string): WorkloadDraft | undefined => (by.startsWith('pod ') ? workloads.get(by.slice(4)) : byIp.get(by.slice(3)));
  const before = resolvedBefore.get(e.spec);
  if (
    before &&
    before.key === e.key &&
    before.labels === e.obj.metadata.labels &&
    before.slices.length === own.length &&
    before.slices.every((s, i) => s === own[i]!.spec) &&
    before.found.every((f) => {
      const w = find(f.by);
      return w?.key === f.key && w?.identity === f.identity && w?.sidecar === f.sidecar;
    })
  ) {
    return before.resolved;
  }
  const found: Found[] = [];
  const lookup = (by: string): WorkloadDraft | undefined => {
    const w = find(by);
    found.push({ by, ...(w ? { key: w.key, identity: w.identity, sidecar: w.sidecar } : {}) });
    return w;
  };
  const linkOrder: Endpoint[][] = [];
  const ports: ServicePort[] = e.spec.ports
    .filter((p) => p.transport === 'TCP')
    .map((p) => {
      const endpoints = endpointsFor(own, p.name, e.spec.ports.length, e.namespace, lookup, e.spec.unmeshedPlaintext === true);
      linkOrder.push(endpoints);
      const plaintext = endpoints.filter((ep) => ep.plaintext).length;
      return {
        ...(p.name !== undefined ? { name: p.name } : {}),
        port: p.port,
        targetPort: p.targetPort,
        ...(p.appProtocol !== undefined ? { appProtocol: p.appProtocol } : {}),
        protocol: p.protocol,
        endpoints,
        ...(plaintext > 0 ? { plaintext: plaintext === endpoints.length ? ('all' as const) : ('some' as const) } : {}),
      };
    })
    .toSorted((a, b) => a.port - b.port);
  const selector = e.spec.selector;
  // What callers check in the server certificate: only endpoints with a sidecar present one.
  const identities = new Set(ports.flatMap((p) => p.endpoints.flatMap((ep) => (ep.identity && !ep.plaintext ? [ep.identity] : []))));
  const service: ServiceDraft = {
    key: e.key,
    namespace: e.namespace,
    name: e.name,
    labels: e.obj.metadata.labels,
    ...(selector ? { selector } : {}),
    ...(e.spec.clusterIP !== undefined ? { clusterIP: e.spec.clusterIP } : {}),
    ports,
    identities: [...identities].toSorted(),
  };
  const resolved = { service, linkOrder };
  resolvedBefore.set(e.spec, { key: e.key, labels: e.obj.metadata.labels, slices: own.map((s) => s.spec), found, resolved });
  return resolved;
}

/** Endpoints of one service port across the service's slices, deduplicated and sorted. */
function endpointsFor(
  slices: readonly Entry<EndpointSliceSpec>[],
  portName: string | undefined,
  servicePortCount: number,
  namespace: string,
  lookup: (by: string) => WorkloadDraft | undefined,
  unmeshedPlaintext: boolean,
): Endpoint[] {
  const out = new Map<string, Endpoint>();
  for (const s of slices) {
    const named = s.spec.ports.find((sp) => sp.name === (portName ?? ''));
    // A single-port service may be served by a single-port slice whatever the names.
    const slicePort = named ?? (servicePortCount === 1 && s.spec.ports.length === 1 ? s.spec.ports[0] : undefined);
    if (slicePort?.port === undefined) continue;
    for (const ep of s.spec.endpoints) {
      for (const address of ep.addresses) {
        const w = lookup(ep.pod !== undefined ? `pod ${objectKey(namespace, ep.pod)}` : `ip ${namespace} ${address}`);
        const id = `${address} ${slicePort.port}`;
        const prev = out.get(id);
        if (prev && (prev.ready || !ep.ready)) continue; // the same address in two slices (mid-update): prefer the ready one
        out.set(id, {
          address,
          port: slicePort.port,
          ready: ep.ready,
          serving: ep.serving,
          terminating: ep.terminating,
          ...(ep.zone !== undefined ? { zone: ep.zone } : {}),
          ...(ep.nodeName !== undefined ? { nodeName: ep.nodeName } : {}),
          ...(ep.hostname !== undefined ? { hostname: ep.hostname } : {}),
          ...(w ? { workload: w.key, identity: w.identity } : {}),
          ...((w ? !w.sidecar : unmeshedPlaintext) ? { plaintext: true as const } : {}),
        });
      }
    }
  }
  return [...out.values()].toSorted((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port));
}

/** A slice port named after no service port carries endpoints nothing uses: say so. */
function checkSlicePorts(slices: readonly Entry<EndpointSliceSpec>[], service: ServiceSpec, book: Book): void {
  const names = service.ports.map((p) => p.name ?? '');
  for (const s of slices) {
    if (service.ports.length === 1 && s.spec.ports.length === 1) continue;
    s.spec.ports.forEach((sp, i) => {
      if (!names.includes(sp.name)) {
        book.warn(s, `ports[${i}].name`, 'RefNotFound', `service "${s.spec.service}" has no port named "${sp.name}", so this port's endpoints are not used; expected one of: ${names.map((n) => `"${n}"`).join(', ')}`);
      }
    });
  }
}
