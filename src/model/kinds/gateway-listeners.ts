/**
 * A Gateway's `spec.listeners[]` as the v1.6 standard-channel CRD defines
 * them: name, port, protocol, hostname, `tls` (mode and certificateRefs) and
 * `allowedRoutes` (namespaces From Same/All/Selector, kinds). What they mean
 * together (conflicts, references, attached routes) is resolve/gateways.ts's.
 * https://gateway-api.sigs.k8s.io/reference/spec/#listener
 */
import type { Field } from '../field.ts';
import { GATEWAY_GROUP, hostname } from './gateway-common.ts';

export interface LabelSelectorSpec {
  matchLabels: Readonly<Record<string, string>>;
  matchExpressions: readonly { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values: readonly string[] }[];
}

export interface CertificateRefSpec {
  group: string;
  kind: string;
  namespace: string;
  name: string;
  path: string;
}

export interface ListenerSpec {
  name: string;
  port: number;
  protocol: string;
  hostname?: string;
  tls?: { mode: 'Terminate' | 'Passthrough'; certificateRefs: CertificateRefSpec[]; path: string };
  allowedRoutes: {
    namespaces: { from: 'Same' | 'All' | 'Selector'; selector?: LabelSelectorSpec };
    /** undefined: the protocol's default kinds. */
    kinds?: { group: string; kind: string; path: string }[];
  };
  path: string;
}

const LISTENER_FIELDS = ['name', 'hostname', 'port', 'protocol', 'tls', 'allowedRoutes'];
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export function decodeListener(l: Field, gatewayNamespace: string): ListenerSpec | undefined {
  if (!l.object({ known: LISTENER_FIELDS })) return undefined;
  const name = l.child('name').string({ required: true, maxLength: 253, pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, expected: 'a lower-case DNS name such as http' });
  const port = l.child('port').integer({ required: true, min: 1, max: 65535 });
  const protocol = l.child('protocol').string({ required: true, maxLength: 255, expected: 'HTTP, HTTPS, TLS, TCP or a domain-prefixed protocol' });
  const host = l.child('hostname').absent ? undefined : hostname(l.child('hostname'));
  const tls = l.child('tls').absent ? undefined : decodeTls(l.child('tls'), gatewayNamespace);
  // CRD rules: HTTPS and TLS listeners need tls; HTTP, TCP and UDP ones must not have it.
  if ((protocol === 'HTTPS' || protocol === 'TLS') && l.child('tls').absent) l.child('tls').report('Required', `tls is required for protocol ${protocol}: {mode: Terminate, certificateRefs: [{name: <a kubernetes.io/tls Secret>}]}`);
  if ((protocol === 'HTTP' || protocol === 'TCP' || protocol === 'UDP') && !l.child('tls').absent) l.child('tls').report('InvalidValue', `tls must not be set for protocol ${protocol}; use HTTPS to terminate TLS`);
  if (protocol === 'HTTPS' && tls?.mode === 'Passthrough') l.child('tls').child('mode').report('InvalidValue', 'an HTTPS listener terminates TLS (mode Terminate); TLS passthrough is protocol TLS with a TLSRoute');
  if (host !== undefined && (protocol === 'TCP' || protocol === 'UDP')) l.child('hostname').warn('Ignored', `hostname means nothing to a ${protocol} listener (no SNI or Host to match)`);
  const allowedRoutes = decodeAllowedRoutes(l.child('allowedRoutes'));
  if (name === undefined || port === undefined || protocol === undefined) return undefined;
  return { name, port, protocol, ...(host !== undefined ? { hostname: host } : {}), ...(tls ? { tls } : {}), allowedRoutes, path: l.path };
}

function decodeTls(f: Field, gatewayNamespace: string): ListenerSpec['tls'] {
  if (!f.object({ known: ['mode', 'certificateRefs', 'options', 'frontendValidation'] })) return undefined;
  const mode = (f.child('mode').absent ? 'Terminate' : f.child('mode').string({ oneOf: ['Terminate', 'Passthrough'] })) as 'Terminate' | 'Passthrough' | undefined;
  const refs: CertificateRefSpec[] = [];
  const items = f.child('certificateRefs').absent ? [] : f.child('certificateRefs').list({ expected: 'a list such as [{name: web-cert}]' });
  if (items.length > 64) f.child('certificateRefs').report('OutOfRange', `${items.length} certificateRefs; at most 64`);
  for (const r of items) {
    if (!r.object({ known: ['group', 'kind', 'namespace', 'name'] })) continue;
    const group = r.child('group').absent ? '' : r.child('group').string({ allowEmpty: true, maxLength: 253 });
    const kind = r.child('kind').absent ? 'Secret' : r.child('kind').string({ maxLength: 63 });
    const namespace = r.child('namespace').absent ? gatewayNamespace : r.child('namespace').string({ maxLength: 63 });
    const name = r.child('name').string({ required: true, maxLength: 253, expected: 'the name of a kubernetes.io/tls Secret' });
    if (group !== undefined && kind !== undefined && namespace !== undefined && name !== undefined) refs.push({ group, kind, namespace, name, path: r.path });
  }
  if (mode === 'Terminate' && items.length === 0) f.child('certificateRefs').report('Required', 'certificateRefs is required to terminate TLS: the kubernetes.io/tls Secret(s) holding the certificate and key');
  return mode === undefined ? undefined : { mode, certificateRefs: refs, path: f.path };
}

function decodeAllowedRoutes(f: Field): ListenerSpec['allowedRoutes'] {
  const same: ListenerSpec['allowedRoutes'] = { namespaces: { from: 'Same' } };
  if (f.absent || !f.object({ known: ['namespaces', 'kinds'] })) return same;
  let namespaces: ListenerSpec['allowedRoutes']['namespaces'] = { from: 'Same' };
  const ns = f.child('namespaces');
  if (!ns.absent && ns.object({ known: ['from', 'selector'] })) {
    const from = (ns.child('from').absent ? 'Same' : ns.child('from').string({ oneOf: ['All', 'Same', 'Selector'] })) as 'All' | 'Same' | 'Selector' | undefined;
    if (from === 'Selector') {
      const selector = ns.child('selector').absent ? undefined : labelSelector(ns.child('selector'));
      if (ns.child('selector').absent) ns.child('selector').report('Required', 'from: Selector needs a selector, such as {matchLabels: {shared-gateway-access: "true"}}');
      namespaces = selector ? { from, selector } : { from: 'Same' };
    } else if (from !== undefined) namespaces = { from };
  }
  if (f.child('kinds').absent) return { namespaces };
  const kinds: NonNullable<ListenerSpec['allowedRoutes']['kinds']> = [];
  for (const k of f.child('kinds').list({ expected: 'a list such as [{kind: HTTPRoute}]' })) {
    if (!k.object({ known: ['group', 'kind'] })) continue;
    const group = k.child('group').absent ? GATEWAY_GROUP : k.child('group').string({ allowEmpty: true, maxLength: 253 });
    const kind = k.child('kind').string({ required: true, maxLength: 63 });
    if (group !== undefined && kind !== undefined) kinds.push({ group, kind, path: k.path });
  }
  return { namespaces, kinds };
}

function labelSelector(f: Field): LabelSelectorSpec | undefined {
  if (!f.object({ known: ['matchLabels', 'matchExpressions'] })) return undefined;
  const matchLabels = f.child('matchLabels').absent ? {} : (f.child('matchLabels').stringMap({ keyPattern: LABEL_KEY, keyExpected: 'a label key such as team' }) ?? {});
  const matchExpressions: LabelSelectorSpec['matchExpressions'][number][] = [];
  for (const e of f.child('matchExpressions').absent ? [] : f.child('matchExpressions').list()) {
    if (!e.object({ known: ['key', 'operator', 'values'] })) continue;
    const key = e.child('key').string({ required: true, pattern: LABEL_KEY, expected: 'a label key' });
    const operator = e.child('operator').string({ required: true, oneOf: ['In', 'NotIn', 'Exists', 'DoesNotExist'] }) as LabelSelectorSpec['matchExpressions'][number]['operator'] | undefined;
    const values = (e.child('values').absent ? [] : e.child('values').list()).map((v) => v.string({ allowEmpty: true })).filter((v): v is string => v !== undefined);
    if ((operator === 'In' || operator === 'NotIn') && values.length === 0) e.child('values').report('Required', `operator ${operator} needs values`);
    if ((operator === 'Exists' || operator === 'DoesNotExist') && values.length > 0) e.child('values').report('InvalidValue', `operator ${operator} takes no values`);
    if (key !== undefined && operator !== undefined) matchExpressions.push({ key, operator, values });
  }
  return { matchLabels, matchExpressions };
}

/** Whether a namespace's labels satisfy a selector (every condition holds). */
export function selects(s: LabelSelectorSpec, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(s.matchLabels)) if (labels[k] !== v) return false;
  for (const e of s.matchExpressions) {
    const has = Object.hasOwn(labels, e.key);
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
    if (e.operator === 'In' && !(has && e.values.includes(labels[e.key]!))) return false;
    if (e.operator === 'NotIn' && has && e.values.includes(labels[e.key]!)) return false;
  }
  return true;
}
