/**
 * One service per ClusterIP and port. In transparent mode a sidecar knows a
 * TCP service only by the address its client dialled (the connection carries
 * no Host), so two services on one `clusterIP:port` would make two outbound
 * filter chains with the same match, and Envoy refuses the whole listener;
 * for HTTP ports the two virtual hosts would share the domain
 * `clusterIP:port`, and Envoy refuses the whole route configuration. The
 * service that holds the address keeps it (the previous model's, else the
 * older: resolve/incumbents.ts); the other is rejected at its own port.
 * Kubernetes never allocates one ClusterIP twice: this is the file source's
 * (or a hand-set clusterIP's) mistake.
 */
import type { ServiceSpec } from '../kinds/service.ts';
import { olderFirst, type Book, type Entry } from './book.ts';
import { writtenAt, type Incumbents } from './incumbents.ts';

export function checkAddressClaims(services: readonly Entry<ServiceSpec>[], book: Book, incumbents: Incumbents): void {
  const holders = new Map<string, Entry<ServiceSpec>>();
  const claims = services.filter((e) => !book.rejected(e) && e.spec.clusterIP !== undefined && e.spec.clusterIP !== 'None');
  // Asked once per service, not per comparison (issue 14: 1,000 services sorted cost 15 ms of object ids).
  const held = new Set(claims.filter((e) => incumbents.held(e)));
  const order = claims.toSorted((a, b) => Number(held.has(b)) - Number(held.has(a)) || olderFirst(a, b));
  for (const e of order) {
    e.spec.ports.forEach((p, i) => {
      if (p.transport !== 'TCP') return;
      const address = `${e.spec.clusterIP}:${p.port}`;
      const holder = holders.get(address);
      if (!holder) return void holders.set(address, e);
      book.error(e, `spec.ports[${i}].port`, 'Conflict',
        `${address} is already service "${holder.key}"'s${writtenAt(holder)}; two services cannot share a ClusterIP and port (a sidecar tells them apart by the address a client dials). Give this service another clusterIP or port`);
    });
  }
}
