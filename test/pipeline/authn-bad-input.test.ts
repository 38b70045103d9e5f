/**
 * issue 15 bad input through the whole pipeline: a good RequestAuthentication
 * and TrafficPolicy served to the reviews sidecar, then invalid edits of each
 * (inline JWKS that is not JSON, an issuer missing, hedging a route that
 * retries POST, a health check every 0s). Each is reported at its file, line,
 * object and field in /api/v1/intents, the sidecar receives nothing, and the
 * last good version stays served; fixing the file clears it. One server for
 * all cases (they run in order, each restoring the good files).
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeshHarness, sidecarNode, type ProxyView } from '../support/mesh-harness.ts';
import { shopFiles } from './shop.ts';

const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });

const authn = (rule: string) => `apiVersion: trellis.io/v1alpha1
kind: RequestAuthentication
metadata:
  name: reviews-jwt
  namespace: shop
spec:
  targetRef: {kind: Service, name: reviews}
  jwtRules:
${rule}`;
const GOOD_AUTHN = authn(`  - issuer: https://auth.example.com
    jwks: '{"keys": [${JSON.stringify(jwk)}]}'
`);

const policy = (spec: string) => `apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata:
  name: reviews-v1
  namespace: shop
spec:
  targetRef: {kind: Service, name: reviews-v1}
${spec}`;
const GOOD_POLICY = policy(`  timeouts: {perTry: 200ms}
  retries:
    attempts: 2
    hedgeOnPerTryTimeout: true
  healthCheck:
    tcp: {}
    interval: 5s
`);

interface Case {
  name: string;
  file: 'authn.yaml' | 'policy.yaml';
  text: string;
  kind: string;
  object: string;
  field: string;
  /** The line's text, to find its number. */
  at: string;
}

const CASES: Case[] = [
  {
    name: 'inline JWKS that is not JSON',
    file: 'authn.yaml', text: authn('  - issuer: https://auth.example.com\n    jwks: \'{"keys": [\'\n'),
    kind: 'RequestAuthentication', object: 'reviews-jwt', field: 'spec.jwtRules[0].jwks', at: '    jwks:',
  },
  {
    name: 'an issuer missing',
    file: 'authn.yaml', text: authn('  - jwksUri: https://auth.example.com/jwks\n'),
    kind: 'RequestAuthentication', object: 'reviews-jwt', field: 'spec.jwtRules[0].issuer', at: '  - jwksUri',
  },
  {
    name: 'hedging a route that retries POST',
    file: 'policy.yaml', text: policy('  timeouts: {perTry: 200ms}\n  retries:\n    methods: [GET, POST]\n    hedgeOnPerTryTimeout: true\n'),
    kind: 'TrafficPolicy', object: 'reviews-v1', field: 'spec.retries.hedgeOnPerTryTimeout', at: '    hedgeOnPerTryTimeout',
  },
  {
    name: 'a health check every 0s',
    file: 'policy.yaml', text: policy('  healthCheck:\n    tcp: {}\n    interval: 0s\n'),
    kind: 'TrafficPolicy', object: 'reviews-v1', field: 'spec.healthCheck.interval', at: '    interval: 0s',
  },
];

let h: MeshHarness;
let reviews: ProxyView;
let frontend: ProxyView;

const filterNames = (p: ProxyView): string[] => p.listener('inbound:8080').filter_chains[0].filters[0].typed_config.http_filters.map((f: { name: string }) => f.name);
const hedged = (p: ProxyView): unknown => p.virtualHost('reviews-v1').routes.find((r: { name: string }) => r.name === 'default/retry')?.route.hedge_policy;

beforeAll(async () => {
  h = await MeshHarness.start({ ...shopFiles('Permissive'), 'authn.yaml': GOOD_AUTHN, 'policy.yaml': GOOD_POLICY });
  reviews = await h.sidecar(sidecarNode('reviews-2', 'shop/reviews-v2'));
  frontend = await h.sidecar(sidecarNode('frontend-1', 'shop/frontend'));
}, 60_000);
afterAll(() => h?.close());

describe('issue 15: an invalid edit keeps the last good config served', () => {
  it('the good version is served: jwt_authn on the reviews inbound listener, a hedged route and health checks for reviews-v1', () => {
    expect(filterNames(reviews)).toEqual(['envoy.filters.http.jwt_authn', 'envoy.filters.http.router']);
    expect(hedged(frontend)).toEqual({ hedge_on_per_try_timeout: true });
    expect(frontend.cluster('reviews-v1.shop:8080').health_checks).toHaveLength(1);
  });

  it.each(CASES)('$name', async (c) => {
    await h.write({ [c.file]: c.text });
    expect(await reviews.settle(300), 'pushed to reviews').toEqual([]);
    expect(await frontend.settle(100), 'pushed to frontend').toEqual([]);
    const s = (await h.intents()).intents.find((x) => x.kind === c.kind && x.name === c.object)!;
    expect(s.conditions.find((x) => x.type === 'Accepted')).toMatchObject({ status: 'False' });
    expect(s.servedGeneration).toBeLessThan(s.generation!);
    const line = c.text.slice(0, c.text.indexOf(c.at)).split('\n').length;
    expect(s.problems.map((p) => ({ severity: p.severity, field: p.field, file: p.file, line: p.line }))).toEqual([{ severity: 'error', field: c.field, file: h.pathOf(c.file), line }]);
    // The last good version is still what the proxies hold.
    expect(filterNames(reviews)).toEqual(['envoy.filters.http.jwt_authn', 'envoy.filters.http.router']);
    expect(hedged(frontend)).toEqual({ hedge_on_per_try_timeout: true });
    expect(frontend.cluster('reviews-v1.shop:8080').health_checks).toHaveLength(1);
    // Fixed: accepted again, nothing to push (the same content).
    await h.write({ [c.file]: c.file === 'authn.yaml' ? GOOD_AUTHN : GOOD_POLICY });
    await reviews.settle(100);
    expect((await h.intents()).intents.find((x) => x.kind === c.kind && x.name === c.object)!.problems).toEqual([]);
  });
});
