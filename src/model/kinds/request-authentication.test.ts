/**
 * issue 15: RequestAuthentication bad input, each written as an operator
 * writes it, asserting the problem's field path, reason and line; and what
 * the model makes of a good one.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ProblemReason } from '../problem.ts';
import { brief, buildWith, problemsOf } from '../testing.ts';

const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });

const doc = (rule: string, extra = '', target = '{kind: Service, name: web}') => `apiVersion: trellis.io/v1alpha1
kind: RequestAuthentication
metadata:
  name: web-jwt
  namespace: demo
spec:
  targetRef: ${target}
  jwtRules:
  - ${rule}
${extra}`;

interface Case {
  name: string;
  yaml: string;
  field: string;
  reason: ProblemReason;
  line: number;
  mentions?: string;
}

const cases: Case[] = [
  { name: 'issuer missing', yaml: doc('jwksUri: https://auth.example.com/jwks'), field: 'spec.jwtRules[0].issuer', reason: 'Required', line: 9 },
  { name: 'inline JWKS that is not JSON', yaml: doc('issuer: a\n    jwks: "{keys: ["'), field: 'spec.jwtRules[0].jwks', reason: 'InvalidValue', line: 10, mentions: 'not valid JSON' },
  { name: 'inline JSON that is not a JWKS', yaml: doc('issuer: a\n    jwks: \'{"kty": "RSA"}\''), field: 'spec.jwtRules[0].jwks', reason: 'InvalidValue', line: 10, mentions: '"keys"' },
  { name: 'inline JWKS with a broken key', yaml: doc('issuer: a\n    jwks: \'{"keys": [{"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}]}\''), field: 'spec.jwtRules[0].jwks', reason: 'InvalidValue', line: 10, mentions: 'keys[0]' },
  { name: 'inline JWKS holding a private key', yaml: doc(`issuer: a\n    jwks: '{"keys": [${JSON.stringify({ ...jwk, d: 'AAAA' })}]}'`), field: 'spec.jwtRules[0].jwks', reason: 'InvalidValue', line: 10, mentions: 'private' },
  { name: 'neither jwksUri nor jwks', yaml: doc('issuer: a'), field: 'spec.jwtRules[0]', reason: 'Required', line: 9 },
  { name: 'both jwksUri and jwks', yaml: doc(`issuer: a\n    jwksUri: https://a/jwks\n    jwks: '{"keys": [${JSON.stringify(jwk)}]}'`), field: 'spec.jwtRules[0]', reason: 'InvalidValue', line: 9 },
  { name: 'a JWKS URL Envoy cannot fetch', yaml: doc('issuer: a\n    jwksUri: ftp://auth.example.com/jwks'), field: 'spec.jwtRules[0].jwksUri', reason: 'InvalidValue', line: 10, mentions: 'http or https' },
  { name: 'a JWKS URL that is no URL', yaml: doc('issuer: a\n    jwksUri: auth.example.com/jwks'), field: 'spec.jwtRules[0].jwksUri', reason: 'InvalidValue', line: 10 },
  { name: 'a cache duration for inline keys', yaml: doc(`issuer: a\n    jwks: '{"keys": [${JSON.stringify(jwk)}]}'\n    jwksCacheDuration: 5m`), field: 'spec.jwtRules[0].jwksCacheDuration', reason: 'InvalidValue', line: 11 },
  { name: 'the same issuer twice', yaml: doc('issuer: a\n    jwksUri: https://a/jwks\n  - issuer: a\n    jwksUri: https://b/jwks'), field: 'spec.jwtRules[1].issuer', reason: 'Duplicate', line: 11 },
  { name: 'a claim header overwriting the mesh\'s own', yaml: doc('issuer: a\n    jwksUri: https://a/jwks\n    outputClaimToHeaders: [{header: X-Forwarded-Client-Cert, claim: sub}]'), field: 'spec.jwtRules[0].outputClaimToHeaders[0].header', reason: 'InvalidValue', line: 11 },
  { name: 'a claim rule with an empty value list', yaml: doc('issuer: a\n    jwksUri: https://a/jwks', '  rules:\n  - claims: {scope: []}\n'), field: 'spec.rules[0].claims.scope', reason: 'Required', line: 12 },
  { name: 'a misspelt field', yaml: doc('issuer: a\n    jwksUri: https://a/jwks\n    audience: [web]'), field: 'spec.jwtRules[0].audience', reason: 'UnknownField', line: 11, mentions: '"audiences"' },
  { name: 'a service that does not exist', yaml: doc('issuer: a\n    jwksUri: https://a/jwks', '', '{kind: Service, name: wbe}'), field: 'spec.targetRef.name', reason: 'RefNotFound', line: 1, mentions: '"web"' },
  { name: 'issue 15: a Gateway Trellis does not serve', yaml: doc('issuer: a\n    jwksUri: https://a/jwks', '', '{group: gateway.networking.k8s.io, kind: Gateway, name: edge}'), field: 'spec.targetRef.name', reason: 'RefNotFound', line: 1, mentions: 'GatewayClass' },
  { name: 'issue 15: a Gateway with a port (a Gateway is targeted whole)', yaml: doc('issuer: a\n    jwksUri: https://a/jwks', '', '{group: gateway.networking.k8s.io, kind: Gateway, name: edge, port: 80}'), field: 'spec.targetRef.port', reason: 'InvalidValue', line: 7 },
  { name: 'issue 15: a Gateway without its group', yaml: doc('issuer: a\n    jwksUri: https://a/jwks', '', '{kind: Gateway, name: edge}'), field: 'spec.targetRef.group', reason: 'Required', line: 7 },
  { name: 'issue 15: a claim rule naming callers at a Gateway (nobody outside the mesh has a service account)', yaml: doc('issuer: a\n    jwksUri: https://a/jwks', '  rules:\n  - claims: {scope: [x]}\n    sources: [{kind: ServiceAccount, name: web}]\n', '{group: gateway.networking.k8s.io, kind: Gateway, name: edge}'), field: 'spec.rules[0].sources', reason: 'InvalidValue', line: 13, mentions: 'claims only' },
  { name: 'a port the service lacks', yaml: doc('issuer: a\n    jwksUri: https://a/jwks', '', '{kind: Service, name: web, port: 81}'), field: 'spec.targetRef.port', reason: 'RefNotFound', line: 1 },
];

describe('issue 15: RequestAuthentication bad input', () => {
  it.each(cases)('$name', ({ yaml, field, reason, line, mentions }) => {
    const result = buildWith(yaml);
    const problems = problemsOf(result).filter((p) => p.kind === 'RequestAuthentication');
    expect(problems.map(brief)).toContainEqual({ severity: 'error', reason, kind: 'RequestAuthentication', namespace: 'demo', name: 'web-jwt', field, file: 'intents.yaml', line: expect.any(Number) });
    const p = problems.find((x) => x.field === field)!;
    if (line > 1) expect(p.line).toBe(line);
    if (mentions) expect(p.message).toContain(mentions);
    expect(result.model.authentications.size).toBe(0);
    expect([...result.model.workloads.values()].flatMap((w) => w.servedPorts).some((sp) => sp.authentication)).toBe(false);
  });

  it('two for one service: the older is kept, the other is a Conflict', () => {
    const a = doc('issuer: a\n    jwksUri: https://a/jwks');
    const result = buildWith(`${a}---\n${a.replace('name: web-jwt', 'name: web-jwt-2')}`);
    expect(problemsOf(result).map(brief)).toContainEqual(expect.objectContaining({ reason: 'Conflict', name: 'web-jwt-2', field: 'spec.targetRef' }));
    expect([...result.model.authentications.keys()]).toEqual(['demo/web-jwt']);
  });
});

describe('issue 15: RequestAuthentication in the model', () => {
  it('defaults (Authorization: Bearer, 10m cache, 5s timeout) and the workloads serving the service carry it, on every HTTP port', () => {
    const result = buildWith(doc('issuer: https://auth.example.com\n    jwksUri: http://127.0.0.1:9000/jwks?x=1'));
    expect(problemsOf(result)).toEqual([]);
    const a = result.model.authentications.get('demo/web-jwt')!;
    expect(a.jwtRules[0]).toEqual({
      issuer: 'https://auth.example.com', audiences: [], forwardOriginalToken: false, claimToHeaders: [],
      from: [{ header: { name: 'authorization', prefix: 'Bearer ' } }],
      jwks: { uri: 'http://127.0.0.1:9000/jwks?x=1', scheme: 'http', host: '127.0.0.1', port: 9000, path: '/jwks?x=1', cacheDurationMs: 600_000, timeoutMs: 5000 },
    });
    const web = result.model.workloads.get('demo/web-v1')!;
    expect(web.servedPorts.filter((p) => p.service === 'demo/web').map((p) => [p.port, p.authentication?.key])).toEqual([[8080, 'demo/web-jwt'], [9090, 'demo/web-jwt']]);
    expect(result.model.workloads.get('demo/client')!.servedPorts.some((p) => p.authentication)).toBe(false);
  });
});
