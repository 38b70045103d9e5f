/**
 * Fixtures shared by the route builder tests (routes.test.ts,
 * route-policy.test.ts): intents as an operator writes them, and a virtual
 * host of the model as the outbound route configuration would build it.
 */
import type { MeshModel } from '../model/types.ts';
import type { ProxyKind } from './proxy.ts';
import { httpPorts, virtualHost } from './routes.ts';

/** A service in another namespace, with a ClusterIP, an HTTP port, a TCP port and a gRPC port. */
export const OTHER = `apiVersion: v1
kind: Service
metadata: {name: db, namespace: other}
spec:
  clusterIP: 10.96.0.10
  selector: {app: db}
  ports:
  - {name: tcp-pg, port: 5432}
  - {name: http-admin, port: 8000, targetPort: 8001}
  - {name: grpc, port: 9000}
---
apiVersion: v1
kind: Service
metadata: {name: headless, namespace: other}
spec:
  clusterIP: None
  ports: [{name: http, port: 80}]
`;

export const GROUP = `apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: web-routes, namespace: demo}
spec:
  matches:
  - name: canary
    headers: [{x-canary: "true"}]
  - name: reports
    pathRegex: /reports/.*
    methods: [GET, POST]
---
`;

export const WEIGHTED = `apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: web, namespace: demo}
spec:
  service: web
  backends: [{service: web-v1, weight: 90}, {service: web-v2, weight: 10}]
---
`;

export const CANARY = `apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: web-canary, namespace: demo}
spec:
  service: web
  matches: [{kind: HTTPRouteGroup, name: web-routes}]
  backends: [{service: web-v2, weight: 1}]
---
`;

export function policy(spec: string, port?: string): string {
  return `apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata: {name: web${port ? `-${port}` : ''}, namespace: demo}
spec:
  targetRef: {kind: Service, name: web${port ? `, port: ${port}` : ''}}
${spec
  .trim()
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
---
`;
}

export type Route = { name: string; match: Record<string, any>; route: Record<string, any>; redirect?: Record<string, any> };

export function vhost(model: MeshModel, o: { service?: string; port?: number; kind?: ProxyKind; callerNamespace?: string } = {}) {
  const s = model.services.get(o.service ?? 'demo/web')!;
  const p = s.ports.find((x) => x.port === (o.port ?? 8080))!;
  const vh = virtualHost(model, s, p, { callerNamespace: o.callerNamespace ?? 'demo', isDefaultPort: httpPorts(s)[0] === p, kind: o.kind ?? 'envoy' });
  return vh as { name: string; domains: string[]; routes: Route[] };
}

export const METHOD_IDEMPOTENT = { name: ':method', string_match: { safe_regex: { regex: '^(GET|HEAD|OPTIONS|PUT|DELETE|TRACE)$' } } };
