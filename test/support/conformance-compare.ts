/**
 * What a conformance expectation compares in an answer (the MESH cases,
 * test/e2e/gateway-api-mesh.test.ts, and the GATEWAY-HTTP cases,
 * test/e2e/gateway-api-gateway.test.ts): test/support/gamma-cases.ts says
 * what each field means and where the suite compares it.
 */
import type { Expectation } from './gamma-cases.ts';
import type { MeshResponse } from './gamma-mesh.ts';

const lower = (h: Record<string, string[]>) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));

/** What is wrong with an answer, or undefined when it meets the expectation (gamma-cases.ts says what is compared). */
export function mismatch(e: Expectation, res: MeshResponse): string | undefined {
  const codes = e.status ?? [200];
  if (!codes.includes(res.status)) return `status ${res.status}, expected ${codes.join(' or ')}`;
  const seen = lower(res.echo?.headers ?? {});
  for (const [k, v] of Object.entries(e.requestHeaders ?? {})) {
    if (!res.echo) return 'no echo of the request (not answered by echo-basic)';
    const got = seen[k.toLowerCase()];
    if (!got) return `request header ${k} not set (backend saw ${JSON.stringify(res.echo.headers)})`;
    if (got.join(',') !== v) return `request header ${k}: ${got.join(',')}, expected ${v}`;
  }
  for (const k of e.absentRequestHeaders ?? []) if (seen[k.toLowerCase()]) return `request header ${k} present: ${seen[k.toLowerCase()]!.join(',')}`;
  for (const [k, v] of Object.entries(e.responseHeaders ?? {})) if (res.headers[k.toLowerCase()] !== v) return `response header ${k}: ${String(res.headers[k.toLowerCase()])}, expected ${v}`;
  for (const k of e.absentResponseHeaders ?? []) if (res.headers[k.toLowerCase()] !== undefined) return `response header ${k} present`;
  if (e.backend && !(res.echo?.pod ?? '').startsWith(e.backend)) return `answered by ${res.echo?.pod ?? '(no echo)'}, expected ${e.backend}`;
  if (e.namespace && res.echo?.namespace !== e.namespace) return `answered from namespace ${res.echo?.namespace ?? '(no echo)'}, expected ${e.namespace}`;
  if (e.requestPath !== undefined && res.echo?.path !== e.requestPath) return `backend saw path ${res.echo?.path}, expected ${e.requestPath}`;
  if (e.redirect) {
    const location = res.headers.location;
    if (!location) return 'no Location header';
    const u = new URL(location, 'http://echo');
    const got = { scheme: u.protocol.replace(':', ''), host: u.hostname, port: u.port, path: u.pathname };
    for (const [k, v] of Object.entries(e.redirect) as [keyof typeof got, string][]) if (got[k] !== v) return `Location ${location}: ${k} ${got[k] || '(none)'}, expected ${v}`;
  }
  return undefined;
}

