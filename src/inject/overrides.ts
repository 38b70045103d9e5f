/**
 * Per-pod overrides of injection, by annotation on the pod (template): the
 * same names for `trellis inject` and the admission webhook
 * (docs/kubernetes.md lists them). A value that cannot be read is an error
 * naming the annotation and the value, never a silent default: a pod whose
 * operator asked for an exclusion must not start without it.
 */
import { UsageError } from '../errors.ts';
import type { InjectOptions, Json } from './options.ts';

export const OVERRIDE_ANNOTATIONS = {
  mode: 'trellis.io/interception-mode',
  excludeInboundPorts: 'trellis.io/exclude-inbound-ports',
  excludeOutboundPorts: 'trellis.io/exclude-outbound-ports',
  excludeOutboundCidrs: 'trellis.io/exclude-outbound-cidrs',
  proxyCpu: 'trellis.io/proxy-cpu',
  proxyMemory: 'trellis.io/proxy-memory',
  proxyCpuLimit: 'trellis.io/proxy-cpu-limit',
  proxyMemoryLimit: 'trellis.io/proxy-memory-limit',
} as const;

/** A Kubernetes quantity (resource.Quantity): 100m, 0.5, 64Mi, 1G, 1e3. */
const QUANTITY = /^[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?$/;
const IPV4_CIDR = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/(3[0-2]|[12]?\d)$/;

const list = (v: string) => v.split(',').map((x) => x.trim()).filter((x) => x !== '');

/** Parses a port list (an option or an annotation); `what` names it in the error. */
export function portList(value: string, what: string): number[] {
  return list(value).map((v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < 1 || n > 65535) throw new UsageError(`${what} ${v}: not a port`);
    return n;
  });
}

export function cidrList(value: string, what: string): string[] {
  return list(value).map((v) => {
    if (!IPV4_CIDR.test(v)) throw new UsageError(`${what}: "${v}" is not an IPv4 CIDR (e.g. 10.0.0.0/8)`);
    return v;
  });
}

/**
 * The options for one pod: `base` with the pod's annotations applied.
 * `workload` ("Kind ns/name") prefixes every error.
 */
export function podOptions(base: InjectOptions, annotations: Record<string, unknown>, workload: string): InjectOptions {
  const A = OVERRIDE_ANNOTATIONS;
  const read = (name: string): string | undefined => (annotations[name] === undefined ? undefined : String(annotations[name]));
  const what = (name: string) => `${workload}: annotation ${name}`;
  const o: InjectOptions = { ...base };
  const mode = read(A.mode);
  if (mode !== undefined) {
    if (mode !== 'transparent' && mode !== 'explicit') throw new UsageError(`${what(A.mode)}: "${mode}": expected transparent or explicit`);
    o.mode = mode;
  }
  // Annotations add to the exclusions of the options (the cluster-wide ones stay).
  const inbound = read(A.excludeInboundPorts);
  if (inbound !== undefined) o.excludeInboundPorts = [...new Set([...base.excludeInboundPorts, ...portList(inbound, what(A.excludeInboundPorts))])];
  const outbound = read(A.excludeOutboundPorts);
  if (outbound !== undefined) o.excludeOutboundPorts = [...new Set([...base.excludeOutboundPorts, ...portList(outbound, what(A.excludeOutboundPorts))])];
  const cidrs = read(A.excludeOutboundCidrs);
  if (cidrs !== undefined) o.excludeOutboundCidrs = [...new Set([...base.excludeOutboundCidrs, ...cidrList(cidrs, what(A.excludeOutboundCidrs))])];
  const quantity = (name: string): string | undefined => {
    const v = read(name)?.trim();
    if (v !== undefined && !QUANTITY.test(v)) throw new UsageError(`${what(name)}: "${v}" is not a Kubernetes quantity (e.g. 100m, 128Mi)`);
    return v;
  };
  const [cpu, memory, cpuLimit, memoryLimit] = [quantity(A.proxyCpu), quantity(A.proxyMemory), quantity(A.proxyCpuLimit), quantity(A.proxyMemoryLimit)];
  if (cpu ?? memory ?? cpuLimit ?? memoryLimit) {
    const r = base.proxyResources ?? PROXY_RESOURCES;
    o.proxyResources = {
      requests: { ...r.requests, ...(cpu ? { cpu } : {}), ...(memory ? { memory } : {}) },
      limits: { ...r.limits, ...(cpuLimit ? { cpu: cpuLimit } : {}), ...(memoryLimit ? { memory: memoryLimit } : {}) },
    };
  }
  return o;
}

/** The sidecar's resources unless overridden (requests: what an idle Envoy with a small mesh uses). */
export const PROXY_RESOURCES: { requests: Json; limits: Json } = { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '512Mi' } };
