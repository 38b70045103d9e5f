/**
 * RequestAuthentications: the target service (and port) must exist and carry
 * HTTP; one per service, and one per service port (the older wins, as for
 * TrafficPolicies). A port-specific one replaces the service-wide one on
 * that port whole (authentication is not merged field by field: a port that
 * trusts other issuers must not inherit the service's rules by accident).
 * The result reaches the translator on the workloads serving the port
 * (`ServedPort.authentication`), since it shapes their inbound listeners.
 */
import { childPath } from '../field-path.ts';
import type { RequestAuthenticationSpec } from '../kinds/request-authentication.ts';
import type { Identity, MeshSettings, ObjectKey, RequestAuthn, Workload } from '../types.ts';
import { olderFirst, sortedMap, spiffeId, type Book, type Entry } from './book.ts';
import { resolveServiceTarget } from './service-target.ts';
import type { ServiceDraft } from './services.ts';
import { knownServiceAccount } from './workloads.ts';

/** The model's form of a spec's jwtRules (the JWKS URL as its parts). */
export function jwtRulesOf(spec: RequestAuthenticationSpec): RequestAuthn['jwtRules'] {
  return spec.jwtRules.map(({ jwks, ...r }) => ({
    ...r,
    jwks: 'inline' in jwks ? jwks : { uri: jwks.uri, scheme: jwks.scheme, host: jwks.host, port: jwks.port, path: jwks.path, cacheDurationMs: jwks.cacheDurationMs, timeoutMs: jwks.timeoutMs },
  }));
}

/** Those that target a Service (a Gateway's: gateway-authentication.ts). */
export function resolveAuthentications(
  entries: readonly Entry<RequestAuthenticationSpec>[],
  services: ReadonlyMap<ObjectKey, ServiceDraft>,
  identities: ReadonlyMap<string, Identity>,
  mesh: MeshSettings,
  book: Book,
): Map<ObjectKey, RequestAuthn> {
  const owner = new Map<string, RequestAuthn>();
  const accepted: RequestAuthn[] = [];
  for (const e of entries.toSorted(olderFirst)) {
    if (e.spec.service === undefined) continue;
    const target = resolveServiceTarget(e as Entry<RequestAuthenticationSpec & { service: string }>, services, book);
    if (!target) continue;
    const svc = target.svc;
    let port: number | undefined;
    const p = target.port;
    if (p) {
      if (p.protocol === 'tcp') {
        // Refused, not ignored: an operator who asked for tokens must not get a port that takes none.
        book.error(e, 'spec.targetRef.port', 'InvalidValue', `port ${p.port} of service "${svc.name}" carries plain TCP, where there are no requests and no tokens to check; set appProtocol: http (or grpc) on the port if it speaks HTTP`);
        continue;
      }
      port = p.port;
    } else {
      const tcp = svc.ports.filter((p) => p.protocol === 'tcp').map((p) => p.port);
      if (tcp.length === svc.ports.length) {
        book.error(e, 'spec.targetRef', 'InvalidValue', `service "${svc.name}" has only plain TCP ports (${tcp.join(', ')}), where there are no requests and no tokens to check`);
        continue;
      }
      if (tcp.length > 0) book.warn(e, 'spec.targetRef', 'Ignored', `port${tcp.length > 1 ? 's' : ''} ${tcp.join(', ')} of service "${svc.name}" carr${tcp.length > 1 ? 'y' : 'ies'} plain TCP and take${tcp.length > 1 ? '' : 's'} no tokens; only the HTTP ports are covered`);
    }
    const rules = e.spec.rules?.map((r) => ({
      claims: r.claims,
      sources: r.sources.map((s) => {
        if (!knownServiceAccount(identities, mesh, s.namespace, s.name)) {
          book.warn(e, childPath(s.path, 'name'), 'RefNotFound', `no ServiceAccount "${s.name}" in namespace "${s.namespace}" and no pod runs as it yet; the rule applies to that source once one does. Check the name`);
        }
        return { spiffeId: spiffeId(mesh.trustDomain, s.namespace, s.name), namespace: s.namespace, serviceAccount: s.name };
      }),
    }));
    if (book.rejected(e)) continue;
    const claim = `${svc.key} ${port ?? '*'}`;
    const first = owner.get(claim);
    if (first) {
      const what = port === undefined ? `service "${svc.name}"` : `port ${port} of service "${svc.name}"`;
      book.error(e, port === undefined ? 'spec.targetRef' : 'spec.targetRef.port', 'Conflict',
        `RequestAuthentication "${first.name}" already applies to ${what}; only one may. Merge the jwtRules and rules into "${first.name}" or target another port`);
      continue;
    }
    const authn: RequestAuthn = {
      key: e.key, namespace: e.namespace, name: e.name, service: svc.key, ...(port !== undefined ? { port } : {}),
      jwtRules: jwtRulesOf(e.spec),
      ...(rules ? { rules } : {}),
    };
    owner.set(claim, authn);
    accepted.push(authn);
  }
  return sortedMap(accepted.map((a) => [a.key, a]));
}

/**
 * Workloads with each served HTTP port's RequestAuthentication (port-specific
 * first, else service-wide). Workloads it does not touch are returned as they
 * were, so their digests and memo entries stay.
 */
export function withAuthentication(workloads: ReadonlyMap<ObjectKey, Workload>, authns: ReadonlyMap<ObjectKey, RequestAuthn>): Map<ObjectKey, Workload> {
  if (authns.size === 0) return new Map(workloads);
  const byPort = new Map<string, RequestAuthn>();
  for (const a of authns.values()) if (a.service !== undefined) byPort.set(`${a.service} ${a.port ?? '*'}`, a);
  const out = new Map<ObjectKey, Workload>();
  for (const [key, w] of workloads) {
    let touched = false;
    const servedPorts = w.servedPorts.map((p) => {
      const a = p.protocol === 'tcp' ? undefined : (byPort.get(`${p.service} ${p.port}`) ?? byPort.get(`${p.service} *`));
      if (!a) return p;
      touched = true;
      return { ...p, authentication: a };
    });
    out.set(key, touched ? { ...w, servedPorts } : w);
  }
  return out;
}
