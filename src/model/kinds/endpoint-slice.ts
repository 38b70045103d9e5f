/**
 * discovery.k8s.io/v1 EndpointSlice: where a service's pods are and whether
 * they take traffic. A slice belongs to the service named by its
 * `kubernetes.io/service-name` label; its ports carry the service port's name
 * and the resolved target port number.
 * https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Field } from '../field.ts';
import type { KindSpec } from './kind.ts';
import { TRANSPORTS } from './service.ts';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface EndpointSliceSpec {
  /** The owning service's name, from the label; absent when the label is missing. */
  service?: string;
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
  ports: { name: string; port?: number; protocol: string; appProtocol?: string }[];
  endpoints: SliceEndpoint[];
}

export interface SliceEndpoint {
  addresses: string[];
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  zone?: string;
  nodeName?: string;
  hostname?: string;
  /** A pod in the slice's namespace, from targetRef. */
  pod?: string;
  /** Path of this endpoint, for problems found later. */
  path: string;
}

const ENDPOINT_FIELDS = ['addresses', 'conditions', 'hostname', 'targetRef', 'nodeName', 'zone', 'hints', 'deprecatedTopology'] as const;
const CONDITION_FIELDS = ['ready', 'serving', 'terminating'] as const;
const PORT_FIELDS = ['name', 'port', 'protocol', 'appProtocol'] as const;
const TARGET_FIELDS = ['kind', 'name', 'namespace', 'uid', 'apiVersion', 'resourceVersion', 'fieldPath'] as const;

export const endpointSliceKind: KindSpec<EndpointSliceSpec> = {
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  namespaced: true,
  topLevel: ['addressType', 'endpoints', 'ports'],
  nameRule: 'subdomain',
  decode(root, ctx) {
    const labels = root.child('metadata').child('labels');
    const service = typeof labels.child(SERVICE_NAME_LABEL).value === 'string' ? (labels.child(SERVICE_NAME_LABEL).value as string) : undefined;
    if (service === undefined) {
      labels.warn('Ignored', `an EndpointSlice without the label "${SERVICE_NAME_LABEL}: <service>" belongs to no service and is ignored; add the label naming its service`);
    }
    const addressType = root.child('addressType').string({ required: true, oneOf: ['IPv4', 'IPv6', 'FQDN'] }) as EndpointSliceSpec['addressType'] | undefined;
    if (addressType === 'FQDN') root.child('addressType').warn('Ignored', 'FQDN endpoints are not supported by the mesh and are ignored; use IPv4 or IPv6 addresses');
    const ports = root.child('ports').absent ? [] : root.child('ports').list().flatMap((p) => decodePort(p));
    // The API server stores a slice without endpoints (as `endpoints: null`): a Service with no
    // endpoints yet, or the manual slices of the conformance suite's httproute-service-types.yaml.
    const endpoints = root.child('endpoints').absent ? [] : root.child('endpoints').list({ expected: 'a list of endpoints (it may be empty: [])' })
      .flatMap((e) => decodeEndpoint(e, addressType, ctx.namespace));
    if (addressType === undefined) return undefined;
    return { ...(service !== undefined ? { service } : {}), addressType, ports, endpoints };
  },
};

function decodePort(p: Field): EndpointSliceSpec['ports'] {
  if (!p.object({ known: PORT_FIELDS })) return [];
  const name = p.child('name').absent ? '' : (p.child('name').string() ?? '');
  const port = p.child('port').absent ? undefined : p.child('port').integer({ min: 1, max: 65535 });
  const protocol = p.child('protocol').string({ oneOf: TRANSPORTS }) ?? 'TCP';
  const appProtocol = p.child('appProtocol').absent ? undefined : p.child('appProtocol').string();
  return [{ name, ...(port !== undefined ? { port } : {}), protocol, ...(appProtocol !== undefined ? { appProtocol } : {}) }];
}

function decodeEndpoint(e: Field, addressType: EndpointSliceSpec['addressType'] | undefined, namespace: string): SliceEndpoint[] {
  if (!e.object({ known: ENDPOINT_FIELDS })) return [];
  const addresses: string[] = [];
  for (const a of e.child('addresses').list({ required: true, minItems: 1, expected: 'a list of addresses such as ["127.0.0.2"]' })) {
    const v = a.string({ expected: 'an IP address' });
    if (v === undefined) continue;
    const valid = addressType === 'IPv4' ? isIPv4(v) : addressType === 'IPv6' ? isIPv6(v) : true;
    if (!valid) a.report('InvalidValue', `"${v}" is not an ${addressType} address; expected an address of the slice's addressType`);
    else addresses.push(v);
  }
  const cond = e.child('conditions');
  const flag = (name: (typeof CONDITION_FIELDS)[number]): boolean | undefined => (cond.child(name).absent ? undefined : cond.child(name).boolean());
  let ready = true;
  let serving: boolean | undefined;
  let terminating = false;
  if (!cond.absent && cond.object({ known: CONDITION_FIELDS })) {
    // EndpointSlice API: an unset ready means ready; unset serving follows ready.
    ready = flag('ready') ?? true;
    serving = flag('serving');
    terminating = flag('terminating') ?? false;
  }
  const str = (name: string): string | undefined => (e.child(name).absent ? undefined : e.child(name).string());
  const zone = str('zone');
  const nodeName = str('nodeName');
  const hostname = str('hostname');
  let pod: string | undefined;
  const target = e.child('targetRef');
  if (!target.absent && target.object({ known: TARGET_FIELDS })) {
    const kind = target.child('kind').string();
    const name = target.child('name').string({ required: true, expected: 'the name of the pod' });
    const ns = target.child('namespace').absent ? namespace : target.child('namespace').string();
    if (kind === 'Pod' && ns !== namespace) {
      target.child('namespace').report('CrossNamespace', `an endpoint's pod must be in the slice's namespace "${namespace}"`);
    } else if (kind === 'Pod') pod = name;
  }
  return [{
    addresses, ready, serving: serving ?? ready, terminating,
    ...(zone !== undefined ? { zone } : {}),
    ...(nodeName !== undefined ? { nodeName } : {}),
    ...(hostname !== undefined ? { hostname } : {}),
    ...(pod !== undefined ? { pod } : {}),
    path: e.path,
  }];
}
