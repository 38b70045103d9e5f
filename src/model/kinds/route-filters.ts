/**
 * HTTPRoute and GRPCRoute filters (HTTPRouteFilter, GRPCRouteFilter), decoded
 * into the model's RouteFilter. Trellis serves RequestHeaderModifier,
 * ResponseHeaderModifier, RequestRedirect, URLRewrite and RequestMirror; CORS
 * and ExtensionRef are refused with reason UnsupportedValue, as the spec asks
 * of a filter an implementation does not support (the route is not accepted,
 * so no request skips a filter its author relies on).
 */
import type { Field } from '../field.ts';
import type { HeaderModifier, PathModifier, RouteFilter } from '../types.ts';
import { backendObjectRef, headerName, headerValues, type BackendRefSpec } from './gateway-common.ts';

/** A filter as decoded; a mirror's backend is resolved later (resolve/mesh-routes.ts). */
export type FilterSpec =
  | Exclude<RouteFilter, { type: 'RequestMirror' }>
  | { type: 'RequestMirror'; backendRef: BackendRefSpec; numerator: number; denominator: number; path: string };

const FILTER_FIELDS: Record<string, string> = {
  RequestHeaderModifier: 'requestHeaderModifier',
  ResponseHeaderModifier: 'responseHeaderModifier',
  RequestRedirect: 'requestRedirect',
  URLRewrite: 'urlRewrite',
  RequestMirror: 'requestMirror',
  CORS: 'cors',
  ExtensionRef: 'extensionRef',
};

export interface FilterContext {
  routeNamespace: string;
  /** GRPCRoute has no redirect, rewrite or CORS. */
  allowed: readonly string[];
  /** Backend-level filters: header modifiers only. */
  backendLevel?: boolean;
}

export function decodeFilters(f: Field, ctx: FilterContext): FilterSpec[] {
  if (f.absent) return [];
  const out: FilterSpec[] = [];
  const seen = new Set<string>();
  for (const item of f.list({ expected: "a list of filters such as [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-env, value: prod}]}}]" })) {
    const filter = decodeFilter(item, ctx);
    if (!filter) continue;
    // CRD rules: header modifiers, redirect and rewrite at most once per list (mirrors may repeat).
    if (filter.type !== 'RequestMirror' && seen.has(filter.type)) {
      item.child('type').report('InvalidValue', `${filter.type} is already in this list; it may appear once (merge the two)`);
      continue;
    }
    seen.add(filter.type);
    out.push(filter);
  }
  if (seen.has('RequestRedirect') && seen.has('URLRewrite')) {
    f.report('InvalidValue', 'RequestRedirect and URLRewrite cannot be used together on one rule; a redirect answers the request itself');
  }
  return out;
}

function decodeFilter(item: Field, ctx: FilterContext): FilterSpec | undefined {
  if (!item.object({ known: ['type', ...Object.values(FILTER_FIELDS)] })) return undefined;
  const type = item.child('type').string({ required: true, oneOf: Object.keys(FILTER_FIELDS) });
  if (type === undefined) return undefined;
  for (const [t, field] of Object.entries(FILTER_FIELDS)) {
    if (t !== type && !item.child(field).absent) item.child(field).report('InvalidValue', `${field} is set but type is ${type}; set only the field of the filter's type (${FILTER_FIELDS[type]})`);
  }
  const body = item.child(FILTER_FIELDS[type]!);
  const unsupported = (why: string) => item.child('type').report('UnsupportedValue', `${type} filters are not supported ${why}`);
  if (type === 'CORS' || type === 'ExtensionRef') return unsupported('by Trellis; remove the filter (the route is not served while it names one, so no request skips it)'), undefined;
  if (!ctx.allowed.includes(type)) return unsupported(`on a ${ctx.backendLevel ? 'backendRef' : 'rule'} of this kind; expected one of: ${ctx.allowed.join(', ')}`), undefined;
  if (type === 'RequestHeaderModifier' || type === 'ResponseHeaderModifier') {
    const modifier = headerModifier(body);
    return modifier && { type, modifier };
  }
  if (type === 'RequestRedirect') return redirect(body);
  if (type === 'URLRewrite') return rewrite(body);
  return mirror(body, ctx.routeNamespace);
}

function headerModifier(f: Field): HeaderModifier | undefined {
  if (!f.object({ required: true, known: ['set', 'add', 'remove'] })) return undefined;
  const set = headerValues(f.child('set'));
  const add = headerValues(f.child('add'));
  const remove: string[] = [];
  if (!f.child('remove').absent) {
    for (const r of f.child('remove').list()) {
      const name = headerName(r);
      if (name !== undefined) remove.push(name);
    }
  }
  return { set, add, remove };
}

function pathModifier(f: Field): PathModifier | undefined {
  if (!f.object({ known: ['type', 'replaceFullPath', 'replacePrefixMatch'] })) return undefined;
  const type = f.child('type').string({ required: true, oneOf: ['ReplaceFullPath', 'ReplacePrefixMatch'] }) as PathModifier['type'] | undefined;
  if (type === undefined) return undefined;
  const field = type === 'ReplaceFullPath' ? 'replaceFullPath' : 'replacePrefixMatch';
  const value = f.child(field).string({ required: true, maxLength: 1024, pattern: /^\//, expected: 'a path starting with "/"' });
  return value === undefined ? undefined : { type, value };
}

function redirect(f: Field): FilterSpec | undefined {
  if (!f.object({ required: true, known: ['scheme', 'hostname', 'path', 'port', 'statusCode'] })) return undefined;
  const scheme = f.child('scheme').absent ? undefined : f.child('scheme').string({ oneOf: ['http', 'https'] });
  const hostname = f.child('hostname').absent ? undefined : f.child('hostname').string({ maxLength: 253, pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, expected: 'a lower-case DNS name' });
  const port = f.child('port').absent ? undefined : f.child('port').integer({ min: 1, max: 65535 });
  const path = f.child('path').absent ? undefined : pathModifier(f.child('path'));
  const statusCode = f.child('statusCode').absent ? 302 : f.child('statusCode').integer({ expected: '301, 302, 303, 307 or 308' });
  if (statusCode !== undefined && ![301, 302, 303, 307, 308].includes(statusCode)) f.child('statusCode').report('InvalidValue', `${statusCode} is not a redirect status Trellis sends; expected 301, 302, 303, 307 or 308`);
  if (statusCode === undefined) return undefined;
  return { type: 'RequestRedirect', ...(scheme ? { scheme } : {}), ...(hostname ? { hostname } : {}), ...(port ? { port } : {}), ...(path ? { path } : {}), statusCode };
}

function rewrite(f: Field): FilterSpec | undefined {
  if (!f.object({ required: true, known: ['hostname', 'path'] })) return undefined;
  const hostname = f.child('hostname').absent ? undefined : f.child('hostname').string({ maxLength: 253, pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, expected: 'a lower-case DNS name' });
  const path = f.child('path').absent ? undefined : pathModifier(f.child('path'));
  return { type: 'URLRewrite', ...(hostname ? { hostname } : {}), ...(path ? { path } : {}) };
}

function mirror(f: Field, routeNamespace: string): FilterSpec | undefined {
  if (!f.object({ required: true, known: ['backendRef', 'percent', 'fraction'] })) return undefined;
  const backendRef = backendObjectRef(f.child('backendRef'), routeNamespace);
  let numerator = 100;
  let denominator = 100;
  if (!f.child('percent').absent && !f.child('fraction').absent) f.report('InvalidValue', 'set percent or fraction, not both');
  if (!f.child('percent').absent) numerator = f.child('percent').integer({ min: 0, max: 100 }) ?? 100;
  else if (!f.child('fraction').absent && f.child('fraction').object({ known: ['numerator', 'denominator'] })) {
    numerator = f.child('fraction').child('numerator').integer({ required: true, min: 0 }) ?? 0;
    denominator = f.child('fraction').child('denominator').absent ? 100 : (f.child('fraction').child('denominator').integer({ min: 1 }) ?? 100);
    if (numerator > denominator) f.child('fraction').child('numerator').report('OutOfRange', `numerator ${numerator} exceeds denominator ${denominator}`);
  }
  return backendRef && { type: 'RequestMirror', backendRef, numerator, denominator, path: f.path };
}
