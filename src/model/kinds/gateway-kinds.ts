/**
 * The Gateway API kinds besides the mesh routes: GatewayClass, Gateway,
 * TLSRoute, TCPRoute and BackendTLSPolicy, decoded against the v1.6
 * standard-channel schema (so `trellis validate` catches their mistakes).
 * Gateways of Trellis's GatewayClasses are programmed (resolve/gateways.ts);
 * resolve/gateway-status.ts says what Trellis does with the rest.
 */
import { backendObjectRef, hostnames, parentRefs, TRELLIS_CONTROLLER, type BackendRefSpec, type ParentRefSpec } from './gateway-common.ts';
import { decodeListener, type ListenerSpec } from './gateway-listeners.ts';
import { ruleName } from './http-route.ts';
import type { KindSpec } from './kind.ts';

const V1 = 'gateway.networking.k8s.io/v1';

export interface GatewayClassSpec {
  controllerName: string;
}

export const gatewayClassKind: KindSpec<GatewayClassSpec> = {
  apiVersion: V1,
  alsoServed: ['gateway.networking.k8s.io/v1beta1'],
  kind: 'GatewayClass',
  namespaced: false,
  topLevel: ['spec', 'status'],
  nameRule: 'subdomain',
  decode(root) {
    const spec = root.child('spec');
    if (!spec.object({ required: true, known: ['controllerName', 'description', 'parametersRef'] })) return undefined;
    const controllerName = spec.child('controllerName').string({ required: true, maxLength: 253, pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9\/\-._~%!$&'()*+,;=:]+$/, expected: `a domain-prefixed path such as ${TRELLIS_CONTROLLER}` });
    if (!spec.child('description').absent) spec.child('description').string({ maxLength: 64 });
    return controllerName === undefined ? undefined : { controllerName };
  },
};

export interface GatewaySpec {
  gatewayClassName: string;
  listeners: ListenerSpec[];
}

export const gatewayKind: KindSpec<GatewaySpec> = {
  apiVersion: V1,
  alsoServed: ['gateway.networking.k8s.io/v1beta1'],
  kind: 'Gateway',
  namespaced: true,
  topLevel: ['spec', 'status'],
  nameRule: 'subdomain',
  decode(root, ctx) {
    const spec = root.child('spec');
    if (!spec.object({ required: true, known: ['gatewayClassName', 'listeners', 'addresses', 'infrastructure', 'allowedListeners', 'tls'] })) return undefined;
    const gatewayClassName = spec.child('gatewayClassName').string({ required: true, maxLength: 253, expected: 'the name of a GatewayClass' });
    // Listeners that conflict (one port, two protocols or one hostname) are the resolver's to mark
    // Conflicted, listener by listener (resolve/gateways.ts), so the others keep serving.
    const listeners: GatewaySpec['listeners'] = [];
    const names = new Set<string>();
    const items = spec.child('listeners').list({ required: true, minItems: 1, expected: 'a list such as [{name: http, port: 80, protocol: HTTP}]' });
    if (items.length > 64) spec.child('listeners').report('OutOfRange', `${items.length} listeners; at most 64`);
    for (const l of items) {
      const listener = decodeListener(l, ctx.namespace);
      if (!listener) continue;
      if (names.has(listener.name)) l.child('name').report('InvalidValue', `listener name "${listener.name}" is used twice; listener names must be unique`);
      names.add(listener.name);
      listeners.push(listener);
    }
    return gatewayClassName === undefined ? undefined : { gatewayClassName, listeners };
  },
};

/** TLSRoute and TCPRoute: parents and backends (TLSRoute also hostnames). */
export interface StreamRouteSpec {
  parentRefs: ParentRefSpec[];
  hostnames: string[];
  /** Every rule's backendRefs (v1 allows one rule), with their weight (default 1, as the CRD says). */
  backends: (BackendRefSpec & { weight: number })[];
}

function streamRouteKind(kind: 'TLSRoute' | 'TCPRoute'): KindSpec<StreamRouteSpec> {
  const tls = kind === 'TLSRoute';
  return {
    apiVersion: V1,
    kind,
    namespaced: true,
    topLevel: ['spec', 'status'],
    nameRule: 'subdomain',
    decode(root, ctx) {
      const spec = root.child('spec');
      if (!spec.object({ required: true, known: tls ? ['parentRefs', 'hostnames', 'rules'] : ['parentRefs', 'rules'] })) return undefined;
      const parents = parentRefs(spec.child('parentRefs'), ctx.namespace);
      const hosts = tls ? hostnames(spec.child('hostnames')) : [];
      if (tls && spec.child('hostnames').absent) spec.child('hostnames').report('Required', 'hostnames is required: the SNI names this route takes');
      const backends: StreamRouteSpec['backends'] = [];
      const rules = spec.child('rules').list({ required: true, minItems: 1, expected: 'a list such as [{backendRefs: [{name: db, port: 5432}]}]' });
      // v1 CRD: maxItems 1 (a stream carries nothing to choose a rule by).
      if (rules.length > 1) spec.child('rules').report('OutOfRange', `${rules.length} rules; a ${kind} has exactly one (list every backend in its backendRefs)`);
      rules.forEach((r, i) => {
        if (!r.object({ known: ['name', 'backendRefs'] })) return;
        ruleName(r, i);
        for (const b of r.child('backendRefs').list({ required: true, minItems: 1 })) {
          const ref = backendObjectRef(b, ctx.namespace, ['weight']);
          const weight = b.child('weight').absent ? 1 : b.child('weight').integer({ min: 0, max: 1_000_000 });
          if (ref && weight !== undefined) backends.push({ ...ref, weight });
        }
      });
      return { parentRefs: parents, hostnames: hosts, backends };
    },
  };
}

export const tlsRouteKind = streamRouteKind('TLSRoute');
export const tcpRouteKind = streamRouteKind('TCPRoute');

export interface BackendTlsPolicySpec {
  targets: { group: string; kind: string; name: string }[];
}

export const backendTlsPolicyKind: KindSpec<BackendTlsPolicySpec> = {
  apiVersion: V1,
  kind: 'BackendTLSPolicy',
  namespaced: true,
  topLevel: ['spec', 'status'],
  nameRule: 'subdomain',
  decode(root) {
    const spec = root.child('spec');
    if (!spec.object({ required: true, known: ['targetRefs', 'validation', 'options'] })) return undefined;
    const targets: BackendTlsPolicySpec['targets'] = [];
    for (const t of spec.child('targetRefs').list({ required: true, minItems: 1 })) {
      if (!t.object({ known: ['group', 'kind', 'name', 'sectionName'] })) continue;
      const group = t.child('group').string({ required: true, allowEmpty: true });
      const kind = t.child('kind').string({ required: true });
      const name = t.child('name').string({ required: true });
      if (group !== undefined && kind !== undefined && name !== undefined) targets.push({ group, kind, name });
    }
    const v = spec.child('validation');
    if (v.object({ required: true, known: ['caCertificateRefs', 'wellKnownCACertificates', 'hostname', 'subjectAltNames'] })) v.child('hostname').string({ required: true, maxLength: 253 });
    return { targets };
  },
};
