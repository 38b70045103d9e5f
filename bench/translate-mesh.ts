/**
 * The translation benchmark's mesh, as the source objects an operator (or a
 * cluster) would hand Trellis: S services in 10 namespaces, each with one
 * HTTP port (every 5th also a gRPC port) and E endpoints in 3 zones; one pod
 * per service (the workload a proxy fronts; the service's first endpoint),
 * each with its own service account; TrafficSplits, HTTPRouteGroups,
 * TrafficPolicies; in strict mode a TrafficTarget per service account.
 * Pure and deterministic: everything comes from the indexes.
 */
import type { SourceObject } from '../src/model/object.ts';

export interface MeshShape {
  services: number;
  endpointsPerService: number;
  namespaces: number;
  /** Split roots: every (3 × namespaces)-th service, over the next two services of its namespace. */
  splits: boolean;
  /** Every n-th split also has a header canary (an HTTPRouteGroup match). */
  canaryEvery: number;
  /** Every n-th service has a TrafficPolicy. */
  policyEvery: number;
  /** Callers per service account in strict mode (the next n service accounts). */
  callersPerTarget: number;
  strict: boolean;
}

export const DEFAULT_SHAPE: MeshShape = {
  services: 1000,
  endpointsPerService: 10,
  namespaces: 10,
  splits: true,
  canaryEvery: 2,
  policyEvery: 10,
  callersPerTarget: 10,
  strict: false,
};

const ZONES = ['zone-a', 'zone-b', 'zone-c'];

export function namespaceOf(i: number, shape: MeshShape): string {
  return `ns-${i % shape.namespaces}`;
}

export function serviceName(i: number): string {
  return `svc-${String(i).padStart(4, '0')}`;
}

/** The pod of service i: `ns/pod`, which is also its proxy's node id. */
export function workloadKey(i: number, shape: MeshShape): string {
  return `${namespaceOf(i, shape)}/${serviceName(i)}-0`;
}

function ip(i: number, k: number): string {
  return `10.${(i >> 8) & 255}.${i & 255}.${k + 1}`;
}

function obj(apiVersion: string, kind: string, name: string, namespace: string | undefined, raw: Record<string, unknown>, labels: Record<string, string> = {}): SourceObject {
  const metadata = { name, ...(namespace ? { namespace } : {}), labels, annotations: {} };
  return { apiVersion, kind, metadata, raw: { apiVersion, kind, metadata, ...raw }, origin: { source: 'kubernetes' } };
}

function hasGrpc(i: number): boolean {
  return i % 5 === 0;
}

/**
 * The EndpointSlice of service i. `generation` moves the last endpoint's
 * conditions, so each generation is an endpoint-only change.
 */
export function endpointSlice(i: number, shape: MeshShape, generation = 0): SourceObject {
  const ns = namespaceOf(i, shape);
  const name = serviceName(i);
  const n = shape.endpointsPerService;
  // 0: all ready; then alternately serving+terminating (1) and not ready (2), so every generation differs from the last.
  const state = generation === 0 ? 0 : 1 + ((generation - 1) % 2);
  return obj(
    'discovery.k8s.io/v1',
    'EndpointSlice',
    `${name}-slice`,
    ns,
    {
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080 }, ...(hasGrpc(i) ? [{ name: 'grpc', port: 9090 }] : [])],
      endpoints: Array.from({ length: n }, (_, k) => ({
        addresses: [ip(i, k)],
        conditions: k === n - 1 && state === 1 ? { ready: false, serving: true, terminating: true } : k === n - 1 && state === 2 ? { ready: false } : { ready: true },
        zone: ZONES[k % ZONES.length],
        ...(k === 0 ? { targetRef: { kind: 'Pod', name: `${name}-0` } } : {}),
      })),
    },
    { 'kubernetes.io/service-name': name },
  );
}

export function meshObjects(shape: MeshShape): SourceObject[] {
  const out: SourceObject[] = [];
  if (shape.strict) out.push(obj('trellis.io/v1alpha1', 'MeshConfig', 'mesh', undefined, { spec: { authorization: { mode: 'Strict' } } }));
  for (let n = 0; n < shape.namespaces; n++) out.push(obj('v1', 'Namespace', `ns-${n}`, undefined, {}));
  for (let i = 0; i < shape.services; i++) {
    const ns = namespaceOf(i, shape);
    const name = serviceName(i);
    out.push(obj('v1', 'ServiceAccount', name, ns, {}));
    out.push(
      obj('v1', 'Service', name, ns, {
        spec: {
          clusterIP: `10.96.${(i >> 8) & 255}.${i & 255}`,
          selector: { app: name },
          ports: [{ name: 'http', port: 8080, targetPort: 8080 }, ...(hasGrpc(i) ? [{ name: 'grpc', port: 9090, appProtocol: 'grpc' }] : [])],
        },
      }),
    );
    out.push(
      obj(
        'v1',
        'Pod',
        `${name}-0`,
        ns,
        {
          spec: { serviceAccountName: name, containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }, ...(hasGrpc(i) ? [{ name: 'grpc', containerPort: 9090 }] : [])] }] },
          status: { podIP: ip(i, 0) },
        },
        { app: name },
      ),
    );
    out.push(endpointSlice(i, shape));
  }
  // Splits: root i over backends i+step and i+2·step, the next two services of the root's namespace.
  const step = shape.namespaces;
  let splits = 0;
  for (let i = 0; shape.splits && i + 2 * step < shape.services; i += 3 * step) {
    const ns = namespaceOf(i, shape);
    const [root, b1, b2] = [serviceName(i), serviceName(i + step), serviceName(i + 2 * step)];
    out.push(
      obj('split.smi-spec.io/v1alpha4', 'TrafficSplit', root, ns, {
        spec: { service: root, backends: [{ service: b1, weight: 90 }, { service: b2, weight: 10 }] },
      }),
    );
    if (splits++ % shape.canaryEvery === 0) {
      out.push(obj('specs.smi-spec.io/v1alpha4', 'HTTPRouteGroup', `${root}-canary`, ns, { spec: { matches: [{ name: 'canary', headers: [{ 'x-canary': 'true' }], pathRegex: '/api/.*' }] } }));
      out.push(
        obj('split.smi-spec.io/v1alpha4', 'TrafficSplit', `${root}-canary`, ns, {
          spec: { service: root, matches: [{ kind: 'HTTPRouteGroup', name: `${root}-canary` }], backends: [{ service: b2, weight: 1 }] },
        }),
      );
    }
  }
  for (let i = 0; i < shape.services; i += shape.policyEvery) {
    const ns = namespaceOf(i, shape);
    const name = serviceName(i);
    const variant = (i / shape.policyEvery) % 3;
    const lb = variant === 0 ? { policy: 'RingHash', hashOn: { header: 'x-user' } } : variant === 1 ? { policy: 'LeastRequest', choiceCount: 2 } : { policy: 'RoundRobin' };
    out.push(
      obj('trellis.io/v1alpha1', 'TrafficPolicy', name, ns, {
        spec: {
          targetRef: { kind: 'Service', name },
          timeouts: { request: '5s', perTry: '1s' },
          retries: { attempts: 2, retriableStatusCodes: [503], budget: { percent: 20, minConcurrency: 3 } },
          circuitBreaker: { maxConnections: 100, maxPendingRequests: 100, maxRequests: 200, maxRetries: 10 },
          outlierDetection: { consecutive5xx: 5 },
          loadBalancer: lb,
          locality: { mode: 'PreferSameZone' },
        },
      }),
    );
  }
  if (shape.strict) {
    for (let i = 0; i < shape.services; i++) {
      const ns = namespaceOf(i, shape);
      const sources = Array.from({ length: Math.min(shape.callersPerTarget, shape.services - 1) }, (_, k) => {
        const j = (i + 1 + k) % shape.services;
        return { kind: 'ServiceAccount', name: serviceName(j), namespace: namespaceOf(j, shape) };
      });
      out.push(
        obj('access.smi-spec.io/v1alpha3', 'TrafficTarget', serviceName(i), ns, {
          spec: { destination: { kind: 'ServiceAccount', name: serviceName(i), namespace: ns }, sources },
        }),
      );
    }
  }
  return out;
}
