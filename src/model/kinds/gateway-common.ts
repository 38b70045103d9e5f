/**
 * What the Gateway API kinds (gateway.networking.k8s.io, v1.6 standard
 * channel) share: parentRefs, backendRefs, header names, hostnames, as the
 * CRDs in deploy/crds/gateway-api define them, so what validates here also
 * applies to a cluster. https://gateway-api.sigs.k8s.io/reference/spec/
 */
import type { Field } from '../field.ts';
import type { ParentRef } from '../problem.ts';

export const GATEWAY_GROUP = 'gateway.networking.k8s.io';
export const GATEWAY_V1 = `${GATEWAY_GROUP}/v1`;

/**
 * The controllerName of GatewayClasses Trellis programs, and the name it
 * writes in route status entries (RouteParentStatus.controllerName) for the
 * parents it serves.
 */
export const TRELLIS_CONTROLLER = 'trellis.io/gateway-controller';

/** RFC 7230 token, as the CRDs' HTTPHeaderName pattern. */
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
const HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECTION_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const OBJECT_NAME_MAX = 253;

export function headerName(f: Field, what = 'a header name'): string | undefined {
  return f.string({ required: true, pattern: HEADER_NAME, maxLength: 256, expected: `${what}: letters, digits and !#$%&'*+-.^_\`|~ (at most 256)` });
}

export function hostname(f: Field): string | undefined {
  return f.string({ pattern: HOSTNAME, maxLength: 253, expected: 'a lower-case DNS name, optionally starting with "*."' });
}

export function hostnames(f: Field): string[] {
  if (f.absent) return [];
  return f.list({ expected: 'a list of hostnames such as [api.example.com, "*.example.com"]' })
    .map(hostname)
    .filter((h): h is string => h !== undefined);
}

/** A parentRef with its defaults (group gateway.networking.k8s.io, kind Gateway, the route's namespace). */
export interface ParentRefSpec extends ParentRef {
  path: string;
}

export function parentRefs(f: Field, routeNamespace: string): ParentRefSpec[] {
  if (f.absent) return [];
  const out: ParentRefSpec[] = [];
  f.list({ expected: 'a list of parents such as [{group: "", kind: Service, name: web}]' }).forEach((p) => {
    if (!p.object({ known: ['group', 'kind', 'namespace', 'name', 'port', 'sectionName'] })) return;
    const group = p.child('group').absent ? GATEWAY_GROUP : p.child('group').string({ allowEmpty: true, maxLength: 253 });
    const kind = p.child('kind').absent ? 'Gateway' : p.child('kind').string({ maxLength: 63 });
    const namespace = p.child('namespace').absent ? routeNamespace : p.child('namespace').string({ maxLength: 63 });
    const name = p.child('name').string({ required: true, maxLength: OBJECT_NAME_MAX, expected: 'the name of the parent (a Service for mesh routes, or a Gateway)' });
    const port = p.child('port').absent ? undefined : p.child('port').integer({ min: 1, max: 65535 });
    const sectionName = p.child('sectionName').absent ? undefined : p.child('sectionName').string({ pattern: SECTION_NAME, maxLength: 253, expected: 'a listener or port name' });
    if (group === undefined || kind === undefined || namespace === undefined || name === undefined) return;
    out.push({ group, kind, namespace, name, ...(port !== undefined ? { port } : {}), ...(sectionName !== undefined ? { sectionName } : {}), path: p.path });
  });
  const seen = new Map<string, number>();
  out.forEach((p, i) => {
    const key = JSON.stringify([p.group, p.kind, p.namespace, p.name, p.port, p.sectionName]);
    const first = seen.get(key);
    if (first !== undefined) f.child(i).report('InvalidValue', `the same parent as spec.parentRefs[${first}]; list each parent once`);
    else seen.set(key, i);
  });
  return out;
}

/** A parentRef naming a Service (GAMMA): group "" (core), kind Service. */
export function isServiceParent(p: { group: string; kind: string }): boolean {
  return (p.group === '' || p.group === 'core') && p.kind === 'Service';
}

/** A BackendObjectReference with its defaults (group "", kind Service, the route's namespace). */
export interface BackendRefSpec {
  group: string;
  kind: string;
  namespace: string;
  name: string;
  port?: number;
  path: string;
}

export function backendObjectRef(f: Field, routeNamespace: string, extraKnown: readonly string[] = []): BackendRefSpec | undefined {
  if (!f.object({ known: ['group', 'kind', 'namespace', 'name', 'port', ...extraKnown] })) return undefined;
  const group = f.child('group').absent ? '' : f.child('group').string({ allowEmpty: true, maxLength: 253 });
  const kind = f.child('kind').absent ? 'Service' : f.child('kind').string({ maxLength: 63 });
  const namespace = f.child('namespace').absent ? routeNamespace : f.child('namespace').string({ maxLength: 63 });
  const name = f.child('name').string({ required: true, maxLength: OBJECT_NAME_MAX, expected: 'the name of a Service' });
  const port = f.child('port').absent ? undefined : f.child('port').integer({ min: 1, max: 65535 });
  if (group === undefined || kind === undefined || namespace === undefined || name === undefined) return undefined;
  // CRD rule: "Must have port for Service reference".
  if ((group === '' || group === 'core') && kind === 'Service' && port === undefined) {
    f.child('port').report('Required', 'port is required for a Service reference: the service port to send to');
    return undefined;
  }
  return { group, kind, namespace, name, ...(port !== undefined ? { port } : {}), path: f.path };
}

/** `- {name, value}` header lists (HTTPHeader), each name once (case-insensitively). */
export function headerValues(f: Field): { name: string; value: string }[] {
  if (f.absent) return [];
  const out: { name: string; value: string }[] = [];
  const seen = new Set<string>();
  for (const h of f.list({ expected: 'a list such as [{name: x-env, value: prod}]' })) {
    if (!h.object({ known: ['name', 'value'] })) continue;
    const name = headerName(h.child('name'));
    const value = h.child('value').string({ required: true, allowEmpty: true, maxLength: 4096 });
    if (name === undefined || value === undefined) continue;
    if (seen.has(name.toLowerCase())) {
      h.child('name').report('InvalidValue', `header "${name}" is listed twice; header names are case-insensitive, list each once`);
      continue;
    }
    seen.add(name.toLowerCase());
    out.push({ name, value });
  }
  return out;
}
