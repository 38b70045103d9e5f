/**
 * gateway.networking.k8s.io/v1 GRPCRoute. A gRPC method match is a match on
 * the request path `/<service>/<method>` (gRPC over HTTP/2), so a GRPCRoute
 * decodes into the same rules as an HTTPRoute and shares its translation,
 * for sidecars and proxyless `xds:///` clients alike.
 * https://gateway-api.sigs.k8s.io/reference/spec/#grpcroute
 */
import type { Field } from '../field.ts';
import { checkRegexField } from '../regex.ts';
import type { GatewayMatch } from '../types.ts';
import { backendRefs, DEFAULT_MATCH, meshRouteKind, ruleName, valueMatches, type RouteRuleSpec } from './http-route.ts';
import { decodeFilters } from './route-filters.ts';

const GRPC_FILTERS = ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror'];
const GRPC_SERVICE = /^\.?[a-zA-Z_][a-zA-Z_0-9]*(\.[a-zA-Z_][a-zA-Z_0-9]*)*$/;
const GRPC_METHOD = /^[A-Za-z_][A-Za-z_0-9]*$/;

export const grpcRouteKind = meshRouteKind('GRPCRoute', decodeGrpcRule);

function decodeGrpcRule(r: Field, index: number, ns: string): RouteRuleSpec | undefined {
  if (!r.object({ known: ['name', 'matches', 'filters', 'backendRefs'] })) return undefined;
  const name = ruleName(r, index);
  const items = r.child('matches').absent ? [] : r.child('matches').list({ expected: 'a list of matches such as [{method: {service: echo.Echo, method: Ping}}]' });
  const matches = items.length === 0 ? [DEFAULT_MATCH] : items.map(grpcMatch).filter((m): m is GatewayMatch => m !== undefined);
  const filters = decodeFilters(r.child('filters'), { routeNamespace: ns, allowed: GRPC_FILTERS });
  const backends = backendRefs(r.child('backendRefs'), ns, GRPC_FILTERS.filter((t) => t !== 'RequestMirror'));
  if (name === undefined) return undefined;
  return { name, matches, filters, backends, path: r.path };
}

/** GRPCMethodMatch -> a path match: Exact `/svc/method`, a service's `/svc/` prefix, or an RE2 over the path. */
function grpcMatch(m: Field): GatewayMatch | undefined {
  if (!m.object({ known: ['method', 'headers'] })) return undefined;
  const headers = valueMatches(m.child('headers'), 'header', true);
  let path: GatewayMatch['path'] = DEFAULT_MATCH.path;
  const f = m.child('method');
  if (!f.absent && f.object({ known: ['type', 'service', 'method'] })) {
    const type = f.child('type').absent ? 'Exact' : f.child('type').string({ oneOf: ['Exact', 'RegularExpression'] });
    const service = f.child('service').absent ? undefined : f.child('service').string({ maxLength: 1024 });
    const method = f.child('method').absent ? undefined : f.child('method').string({ maxLength: 1024 });
    if (service === undefined && method === undefined) f.report('Required', 'a method match needs service, method or both');
    if (type === 'Exact') {
      if (service !== undefined && !GRPC_SERVICE.test(service)) f.child('service').report('InvalidValue', `"${service}" is not a gRPC service name; expected a fully qualified name such as echo.v1.Echo`);
      if (method !== undefined && !GRPC_METHOD.test(method)) f.child('method').report('InvalidValue', `"${method}" is not a gRPC method name; expected letters, digits and "_"`);
      if (service !== undefined && method !== undefined) path = { type: 'Exact', value: `/${service}/${method}` };
      else if (service !== undefined) path = { type: 'PathPrefix', value: `/${service}` };
      else if (method !== undefined) path = { type: 'RegularExpression', value: `/[^/]+/${method}` };
    } else if (type === 'RegularExpression') {
      const ok = (service === undefined || checkRegexField(f.child('service'), service)) && (method === undefined || checkRegexField(f.child('method'), method));
      if (!ok) return undefined;
      const regex = `/${service ?? '[^/]+'}/${method ?? '[^/]+'}`;
      if (!checkRegexField(f, regex)) return undefined;
      path = { type: 'RegularExpression', value: regex };
    } else return undefined;
  }
  if (headers === undefined) return undefined;
  return { path, headers, queryParams: [] };
}
