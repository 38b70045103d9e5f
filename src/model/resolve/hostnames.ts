/**
 * Hostname intersection between a Gateway listener and an HTTPRoute, as the
 * spec defines it (HTTPRouteSpec.hostnames): a route hostname is kept when it
 * equals the listener's, when it is more specific than a wildcard listener
 * (`foo.example.com` under `*.example.com`), or, when the route's is the
 * wildcard, the listener's own hostname is kept. A wildcard's `*` stands for
 * one or more whole labels (`*.example.com` takes `a.b.example.com`, not
 * `example.com`).
 * https://gateway-api.sigs.k8s.io/reference/spec/#httproutespec
 */

/** Whether `host` (no wildcard, or a more specific wildcard) falls under `wildcard` (`*.suffix`). */
function under(host: string, wildcard: string): boolean {
  const suffix = wildcard.slice(1); // ".example.com"
  const h = host.startsWith('*.') ? host.slice(1) : host;
  return h.endsWith(suffix) && h.length > suffix.length;
}

/**
 * The hostnames a route serves on a listener: `[]` for every host the
 * listener takes (neither names any), the intersected list, or undefined
 * when they share none (the route does not attach there).
 */
export function intersectHostnames(listener: string | undefined, route: readonly string[]): string[] | undefined {
  if (route.length === 0) return listener === undefined ? [] : [listener];
  if (listener === undefined) return [...new Set(route)];
  const out = new Set<string>();
  for (const r of route) {
    if (r === listener) out.add(r);
    else if (listener.startsWith('*.') && under(r, listener)) out.add(r);
    else if (r.startsWith('*.') && under(listener, r)) out.add(listener);
  }
  return out.size === 0 ? undefined : [...out];
}
