/**
 * v1 Pod: a workload — its labels (for selectors), service account (its
 * identity), IP and container ports. Status comes from the kubelet in a
 * cluster and is written by hand in a local folder (the API server ignores
 * status on create, so such a folder still applies to a cluster).
 */
import { isIP } from 'node:net';
import type { Field } from '../field.ts';
import type { WorkloadPort } from '../types.ts';
import type { KindSpec } from './kind.ts';
import { INJECT_ANNOTATION, INJECT_OPT_OUT_VALUES } from './mtls-policy.ts';
import { TRANSPORTS } from './service.ts';

export interface PodSpec {
  serviceAccount: string;
  nodeName?: string;
  ports: WorkloadPort[];
  ip?: string;
  ips: string[];
  phase?: string;
  /** The Ready condition, when status carries one. */
  readyCondition?: boolean;
  terminating: boolean;
  /** False when opted out of injection (mtls-policy.ts INJECT_ANNOTATION, as annotation or label). */
  sidecar: boolean;
}

const PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'] as const;
const PORT_FIELDS = ['name', 'containerPort', 'protocol', 'hostPort', 'hostIP'] as const;

export const podKind: KindSpec<PodSpec> = {
  apiVersion: 'v1',
  kind: 'Pod',
  namespaced: true,
  topLevel: ['spec', 'status'],
  nameRule: 'subdomain',
  decode(root) {
    const spec = root.child('spec');
    if (!spec.object({ required: true })) return undefined;
    const saField = spec.child('serviceAccountName').absent ? spec.child('serviceAccount') : spec.child('serviceAccountName');
    const serviceAccount = saField.absent ? 'default' : saField.string();
    const ports: WorkloadPort[] = [];
    for (const key of ['containers', 'initContainers'] as const) {
      const list = spec.child(key).list({ required: key === 'containers', minItems: key === 'containers' ? 1 : 0, expected: 'a list of containers' });
      for (const c of list) {
        if (!c.object()) continue;
        const container = c.child('name').string({ required: true, expected: 'the container name' }) ?? '';
        if (c.child('ports').absent) continue;
        for (const p of c.child('ports').list()) ports.push(...decodePort(p, container));
      }
    }
    const nodeName = spec.child('nodeName').absent ? undefined : spec.child('nodeName').string();
    const status = decodeStatus(root.child('status'));
    const terminating = !root.child('metadata').child('deletionTimestamp').absent;
    const sidecar = !(['annotations', 'labels'] as const).some((m) => {
      const v = root.child('metadata').child(m).child(INJECT_ANNOTATION).value;
      return typeof v === 'string' && INJECT_OPT_OUT_VALUES.includes(v);
    });
    if (serviceAccount === undefined || status === undefined) return undefined;
    return { serviceAccount, ...(nodeName ? { nodeName } : {}), ports, ...status, terminating, sidecar };
  },
};

function decodePort(p: Field, container: string): WorkloadPort[] {
  if (!p.object({ known: PORT_FIELDS })) return [];
  const containerPort = p.child('containerPort').integer({ required: true, min: 1, max: 65535 });
  const name = p.child('name').absent ? undefined : p.child('name').string();
  const protocol = (p.child('protocol').string({ oneOf: TRANSPORTS }) ?? 'TCP') as WorkloadPort['protocol'];
  if (containerPort === undefined) return [];
  return [{ container, ...(name !== undefined ? { name } : {}), containerPort, protocol }];
}

function decodeStatus(status: Field): Pick<PodSpec, 'ip' | 'ips' | 'phase' | 'readyCondition'> | undefined {
  if (status.absent) return { ips: [] };
  if (!status.object()) return undefined;
  const ipField = status.child('podIP');
  const ip = ipField.absent ? undefined : ipField.string();
  if (ip !== undefined && !isIP(ip)) ipField.report('InvalidValue', `"${ip}" is not an IP address; expected an IPv4 or IPv6 address such as 127.0.0.2`);
  const ips = new Set<string>(ip !== undefined && isIP(ip) ? [ip] : []);
  if (!status.child('podIPs').absent) {
    for (const item of status.child('podIPs').list()) {
      if (!item.object()) continue;
      const v = item.child('ip').string({ required: true, expected: 'an IP address' });
      if (v !== undefined && isIP(v)) ips.add(v);
      else if (v !== undefined) item.child('ip').report('InvalidValue', `"${v}" is not an IP address; expected an IPv4 or IPv6 address`);
    }
  }
  const phase = status.child('phase').absent ? undefined : status.child('phase').string({ oneOf: PHASES });
  let readyCondition: boolean | undefined;
  if (!status.child('conditions').absent) {
    for (const c of status.child('conditions').list()) {
      if (!c.object() || c.child('type').value !== 'Ready') continue;
      const s = c.child('status').string({ required: true, oneOf: ['True', 'False', 'Unknown'] });
      readyCondition = s === 'True';
    }
  }
  return {
    ...(ip !== undefined && isIP(ip) ? { ip } : {}),
    ips: [...ips],
    ...(phase !== undefined ? { phase } : {}),
    ...(readyCondition !== undefined ? { readyCondition } : {}),
  };
}
