/**
 * The Gateway API equivalent of a mesh's SMI routing (docs/gateway-api.md
 * "From SMI to Gateway API"): for each service that TrafficSplits route, one
 * HTTPRoute per HTTP port, attached to the service, whose rules are the
 * splits in the order the router tries them — each match of a split with
 * matches (a canary) as a rule, then the split without matches as the last
 * rule. Pure: model in, plain objects out (the command prints them as YAML).
 *
 * An SMI match ANDs its path regex, methods and headers; a Gateway API match
 * takes one method, so a match with several methods becomes one match per
 * method. Header values are RE2 regexes in SMI: a value with no regex
 * operator becomes an Exact match, any other a RegularExpression one.
 */
import type { HttpMatch, MeshModel, MeshService, Split } from './types.ts';

type Json = Record<string, unknown>;

export interface MigratedRoute {
  /** The TrafficSplits it replaces, `namespace/name`. */
  from: string[];
  route: Json;
}

const REGEX_OPERATORS = /[\\.+*?()|[\]{}^$]/;

function matchesOf(m: HttpMatch): Json[] {
  const headers = m.headers.map((h) => (REGEX_OPERATORS.test(h.valueRegex)
    ? { type: 'RegularExpression', name: h.name, value: h.valueRegex }
    : { name: h.name, value: h.valueRegex }));
  const base: Json = {
    ...(m.pathRegex ? { path: { type: 'RegularExpression', value: m.pathRegex } } : {}),
    ...(headers.length > 0 ? { headers } : {}),
  };
  return m.methods.length === 0 ? [base] : m.methods.map((method) => ({ ...base, method }));
}

function backendRefs(model: MeshModel, split: Split, port: number): Json[] {
  return split.backends
    .filter((b) => b.ports.includes(port))
    .map((b) => {
      const s = model.services.get(b.service)!;
      return { name: s.name, ...(s.namespace !== split.namespace ? { namespace: s.namespace } : {}), port, weight: b.weight };
    });
}

function routeFor(model: MeshModel, service: MeshService, port: number, onlyPort: boolean): MigratedRoute | undefined {
  const splits = service.splits.map((k) => model.splits.get(k)!).filter((s) => s.backends.some((b) => b.weight > 0 && b.ports.includes(port)));
  if (splits.length === 0) return undefined;
  const rules: Json[] = [];
  for (const s of splits) {
    const refs = backendRefs(model, s, port);
    if (s.matches.length === 0) rules.push({ backendRefs: refs });
    else rules.push({ matches: s.matches.flatMap(matchesOf), backendRefs: refs });
  }
  return {
    from: splits.map((s) => s.key),
    route: {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: onlyPort ? service.name : `${service.name}-${port}`, namespace: service.namespace },
      spec: {
        parentRefs: [{ group: '', kind: 'Service', name: service.name, ...(onlyPort ? {} : { port }) }],
        rules,
      },
    },
  };
}

/** One HTTPRoute per split root and HTTP port, in service order. */
export function migrateSplits(model: MeshModel): MigratedRoute[] {
  const out: MigratedRoute[] = [];
  for (const service of model.services.values()) {
    if (service.splits.length === 0) continue;
    const ports = service.ports.filter((p) => p.protocol !== 'tcp');
    for (const p of ports) {
      const r = routeFor(model, service, p.port, ports.length === 1);
      if (r) out.push(r);
    }
  }
  return out;
}
