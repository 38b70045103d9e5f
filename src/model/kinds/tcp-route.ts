/**
 * specs.smi-spec.io/v1alpha4 TCPRoute: a named set of destination ports that
 * TrafficTarget rules refer to (`rules: [{kind: TCPRoute, name: db}]`) to
 * allow plain TCP connections, which carry no request to match.
 * https://github.com/servicemeshinterface/smi-spec/blob/main/apis/traffic-specs/v1alpha4/traffic-specs.md#tcproute
 *
 * `spec.matches` is one mapping in SMI v1alpha4 (`{name, ports}`), not a
 * list; no ports (or no matches at all) means every port of the destination.
 */
import type { KindSpec } from './kind.ts';

export interface TcpRouteSpec {
  /** Destination ports (service ports or targetPorts); empty: every port. */
  ports: number[];
}

export const tcpRouteKind: KindSpec<TcpRouteSpec> = {
  apiVersion: 'specs.smi-spec.io/v1alpha4',
  kind: 'TCPRoute',
  namespaced: true,
  topLevel: ['spec'],
  nameRule: 'subdomain',
  decode(root) {
    const spec = root.child('spec');
    if (spec.absent) return { ports: [] };
    if (!spec.object({ known: ['matches'] })) return undefined;
    const matches = spec.child('matches');
    if (matches.absent) return { ports: [] };
    if (!matches.object({ known: ['name', 'ports'], expected: 'a mapping such as {ports: [5432]}' })) return undefined;
    if (!matches.child('name').absent) matches.child('name').string();
    const ports: number[] = [];
    if (!matches.child('ports').absent) {
      for (const f of matches.child('ports').list({ expected: 'a list of port numbers such as [5432]; leave it out for every port' })) {
        const p = f.integer({ min: 1, max: 65535, expected: 'a port number' });
        if (p !== undefined && !ports.includes(p)) ports.push(p);
      }
    }
    return { ports: ports.toSorted((a, b) => a - b) };
  },
};
