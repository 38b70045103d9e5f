/**
 * ExternalServices: a host and port (and, for TCP, a port and its addresses)
 * belongs to one ExternalService; a second one claiming it is rejected
 * (`Conflict`, the older is kept), since a sidecar can send a connection to
 * one cluster only. Sources name service accounts, as TrafficTarget sources
 * do (an unknown one is a warning: it takes effect when it appears).
 */
import type { ExternalServiceSpec } from '../kinds/external-service.ts';
import type { ExternalService, Identity, MeshSettings, ObjectKey } from '../types.ts';
import { olderFirst, sortedMap, spiffeId, type Book, type Entry } from './book.ts';
import { knownServiceAccount } from './workloads.ts';

export function resolveExternalServices(
  entries: readonly Entry<ExternalServiceSpec>[],
  services: ReadonlyMap<ObjectKey, { name: string; namespace: string }>,
  identities: ReadonlyMap<string, Identity>,
  mesh: MeshSettings,
  book: Book,
): Map<ObjectKey, ExternalService> {
  const owner = new Map<string, Entry<ExternalServiceSpec>>();
  const accepted: ExternalService[] = [];
  // The Host forms mesh services answer to (routes.ts domainsFor): an external host among them would be routed twice.
  const meshHosts = new Map<string, ObjectKey>();
  for (const [key, svc] of services) for (const h of [svc.name, `${svc.name}.${svc.namespace}`]) if (!meshHosts.has(h)) meshHosts.set(h, key);
  for (const e of entries.toSorted(olderFirst)) {
    if (book.rejected(e)) continue;
    const s = e.spec;
    const clash = s.hosts.findIndex((h) => meshHosts.has(h));
    if (clash >= 0) {
      book.error(e, `spec.hosts[${clash}]`, 'Conflict', `"${s.hosts[clash]}" is how clients call the mesh service ${meshHosts.get(s.hosts[clash]!)}; an ExternalService host must be a name outside the mesh`);
      continue;
    }
    // HTTP and TLS are told apart by host (Host header, SNI); TCP by port and addresses only.
    const claims = s.ports.flatMap((p, i) =>
      p.protocol === 'TCP' ? [[`tcp ${p.port} ${s.addresses.join(',')}`, `ports[${i}]`, `TCP port ${p.port}${s.addresses.length ? ` to ${s.addresses.join(', ')}` : ''}`]] : s.hosts.map((h) => [`${h}:${p.port}`, `ports[${i}]`, `${h}:${p.port}`]),
    );
    const taken = claims.find(([c]) => owner.has(c!));
    if (taken) {
      const first = owner.get(taken[0]!)!;
      book.error(e, `spec.${taken[1]}`, 'Conflict', `ExternalService ${first.key} already declares ${taken[2]}; a sidecar can send it to one place only. Merge the two, or remove one`);
      continue;
    }
    for (const [c] of claims) owner.set(c!, e);
    (s.sources ?? []).forEach((src, i) => {
      if (!knownServiceAccount(identities, mesh, src.namespace, src.serviceAccount)) {
        book.warn(e, `spec.sources[${i}].name`, 'RefNotFound', `service account ${src.namespace}/${src.serviceAccount} is not declared and no pod uses it; the rule takes effect when one appears`);
      }
    });
    if (s.ports.some((p) => p.protocol === 'TCP') && s.addresses.length === 0) {
      book.warn(e, 'spec.addresses', 'Ignored', `without addresses, a TCP port is matched by its number alone: in transparent mode every connection to port ${s.ports.find((p) => p.protocol === 'TCP')!.port} outside the mesh goes to ${s.hosts[0]}. List the addresses the application connects to`);
    }
    const { hosts, ports, addresses, tls, sources, timeouts, retries, circuitBreaker, outlierDetection } = s;
    accepted.push({
      key: e.key, namespace: e.namespace, name: e.name, hosts, ports, addresses,
      ...(tls ? { tls } : {}),
      ...(sources ? { sources: sources.map((x) => spiffeId(mesh.trustDomain, x.namespace, x.serviceAccount)).toSorted() } : {}),
      policy: { ...(timeouts ? { timeouts } : {}), ...(retries ? { retries } : {}), ...(circuitBreaker ? { circuitBreaker } : {}), ...(outlierDetection ? { outlierDetection } : {}) },
    });
  }
  return sortedMap(accepted.map((x) => [x.key, x]));
}
