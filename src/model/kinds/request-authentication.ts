/**
 * trellis.io/v1alpha1 RequestAuthentication: how a service's own sidecars
 * check end-user tokens (JWT) — which issuers, audiences and keys — and,
 * optionally, which tokens' claims (and which callers) may call it. Istio's
 * RequestAuthentication is the model for `jwtRules`; `rules` is the part of
 * an Istio AuthorizationPolicy that reads claims. See docs/intents.md.
 *
 * Enforced at the destination (inbound): the filters are built by
 * translate/jwt-authn.ts and translate/claim-rbac.ts, which an ingress
 * gateway can call with the same resolved object.
 */
import type { Field } from '../field.ts';
import type { JwtLocation } from '../types.ts';
import { inlineJwksProblem, parseJwksUrl, type JwksUrl } from './jwks.ts';
import type { KindSpec } from './kind.ts';

/** The API group of a Gateway targetRef. */
const GATEWAY_GROUP = 'gateway.networking.k8s.io';
import { decodeSubject, type SubjectSpec } from './traffic-target.ts';

export interface JwtRuleSpec {
  issuer: string;
  audiences: string[];
  jwks: { inline: string } | (JwksUrl & { uri: string; cacheDurationMs: number; timeoutMs: number });
  from: JwtLocation[];
  forwardOriginalToken: boolean;
  claimToHeaders: { header: string; claim: string }[];
}

export interface ClaimRuleSpec {
  claims: { claim: string; values: string[] }[];
  sources: (SubjectSpec & { path: string })[];
}

export interface RequestAuthenticationSpec {
  /** The target: a Service of this namespace (and optionally a port), or a Gateway (its ingress gateway). */
  service?: string;
  gateway?: string;
  port?: number | string;
  jwtRules: JwtRuleSpec[];
  rules?: ClaimRuleSpec[];
}

const HEADER = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
const DAY_MS = 86_400_000;
/** Headers a claim may not overwrite: routing and the mesh's own identity headers. */
const RESERVED_HEADERS = new Set(['host', 'authorization', 'x-forwarded-client-cert', 'content-length', 'transfer-encoding', 'te', 'connection']);

export const requestAuthenticationKind: KindSpec<RequestAuthenticationSpec> = {
  apiVersion: 'trellis.io/v1alpha1',
  kind: 'RequestAuthentication',
  namespaced: true,
  topLevel: ['spec', 'status'],
  nameRule: 'subdomain',
  decode(root, ctx) {
    const spec = root.child('spec');
    if (!spec.object({ required: true, known: ['targetRef', 'jwtRules', 'rules'] })) return undefined;
    const target = spec.child('targetRef');
    let service: string | undefined;
    let gateway: string | undefined;
    let port: number | string | undefined;
    if (target.object({ required: true, known: ['group', 'kind', 'name', 'port'], expected: 'a mapping such as {kind: Service, name: web}' })) {
      const kind = target.child('kind').string({ required: true, oneOf: ['Service', 'Gateway'] });
      const name = target.child('name').string({ required: true, expected: kind === 'Gateway' ? 'the name of a Gateway in this namespace' : 'the name of a service in this namespace' });
      if (kind === 'Gateway') {
        // The ingress gateway checks tokens on every request it takes (issue 15: "the ingress gateway uses the same").
        target.child('group').string({ required: true, oneOf: [GATEWAY_GROUP] });
        if (!target.child('port').absent) target.child('port').report('InvalidValue', 'a Gateway is targeted whole: its listeners share one token check; leave port out');
        gateway = name;
      } else if (kind === 'Service') {
        if (!target.child('group').absent) target.child('group').string({ oneOf: [''] });
        if (!target.child('port').absent) port = target.child('port').portOrName();
        service = name;
      }
    }
    const jwtRules: JwtRuleSpec[] = [];
    const issuers = new Map<string, string>();
    for (const r of spec.child('jwtRules').list({ required: true, minItems: 1, expected: 'a list of trusted issuers such as [{issuer: https://auth.example.com, jwksUri: https://auth.example.com/jwks.json}]' })) {
      const rule = decodeJwtRule(r);
      if (!rule) continue;
      const seen = issuers.get(rule.issuer);
      if (seen) r.child('issuer').report('Duplicate', `issuer "${rule.issuer}" is already trusted by ${seen}; list each issuer once`);
      else issuers.set(rule.issuer, r.path);
      jwtRules.push(rule);
    }
    let rules: ClaimRuleSpec[] | undefined;
    if (!spec.child('rules').absent) {
      rules = [];
      for (const r of spec.child('rules').list({ minItems: 1, expected: 'a list of rules such as [{claims: {scope: [orders.read]}}]; leave it out to accept any valid token or none' })) {
        const rule = decodeClaimRule(r, ctx.namespace);
        if (rule) rules.push(rule);
      }
    }
    if (gateway !== undefined) {
      // At the edge no caller has a mesh identity: a rule naming service accounts could never match.
      for (const [i, r] of (rules ?? []).entries()) {
        if (r.sources.length > 0) spec.child('rules').child(i).child('sources').report('InvalidValue', 'a Gateway takes requests from outside the mesh, where no caller has a service account; leave sources out (claims only)');
      }
      return { gateway, jwtRules, ...(rules ? { rules } : {}) };
    }
    if (service === undefined) return undefined;
    return { service, ...(port !== undefined ? { port } : {}), jwtRules, ...(rules ? { rules } : {}) };
  },
};

function decodeJwtRule(f: Field): JwtRuleSpec | undefined {
  const known = ['issuer', 'audiences', 'jwksUri', 'jwks', 'jwksCacheDuration', 'jwksFetchTimeout', 'fromHeaders', 'fromParams', 'forwardOriginalToken', 'outputClaimToHeaders'];
  if (!f.object({ known })) return undefined;
  const issuer = f.child('issuer').string({ required: true, maxLength: 1024, expected: 'the token issuer (its "iss" claim), e.g. https://auth.example.com' });
  const audiences: string[] = [];
  if (!f.child('audiences').absent) {
    for (const a of f.child('audiences').list({ minItems: 1, expected: 'audiences a token\'s "aud" must include one of; leave it out to accept any' })) {
      const v = a.string({ maxLength: 1024 });
      if (v !== undefined) audiences.push(v);
    }
  }
  const jwks = decodeJwks(f);
  const from: JwtLocation[] = [];
  if (!f.child('fromHeaders').absent) {
    for (const h of f.child('fromHeaders').list({ minItems: 1 })) {
      if (!h.object({ known: ['name', 'prefix'] })) continue;
      const name = h.child('name').string({ required: true, pattern: HEADER, expected: 'a header name such as Authorization' });
      const prefix = h.child('prefix').absent ? undefined : h.child('prefix').string({ allowEmpty: true });
      if (name !== undefined) from.push({ header: { name: name.toLowerCase(), ...(prefix ? { prefix } : {}) } });
    }
  }
  if (!f.child('fromParams').absent) {
    for (const p of f.child('fromParams').list({ minItems: 1 })) {
      const v = p.string({ pattern: /^[A-Za-z0-9._~-]+$/, expected: 'a query parameter name such as access_token' });
      if (v !== undefined) from.push({ param: v });
    }
  }
  if (from.length === 0) from.push({ header: { name: 'authorization', prefix: 'Bearer ' } });
  const forwardOriginalToken = f.child('forwardOriginalToken').absent ? false : f.child('forwardOriginalToken').boolean();
  const claimToHeaders: JwtRuleSpec['claimToHeaders'] = [];
  if (!f.child('outputClaimToHeaders').absent) {
    for (const c of f.child('outputClaimToHeaders').list({ minItems: 1 })) {
      if (!c.object({ known: ['header', 'claim'] })) continue;
      const header = c.child('header').string({ required: true, pattern: HEADER, expected: 'a header name such as x-jwt-sub' })?.toLowerCase();
      const claim = c.child('claim').string({ required: true, maxLength: 256, expected: 'a claim name such as sub (nested: a.b)' });
      if (header !== undefined && (RESERVED_HEADERS.has(header) || header.startsWith(':'))) {
        c.child('header').report('InvalidValue', `"${header}" is a header the mesh or HTTP itself sets; a claim may not overwrite it. Use a header of your own such as x-jwt-${claim ?? 'sub'}`);
      } else if (header !== undefined && claim !== undefined) claimToHeaders.push({ header, claim });
    }
  }
  if (issuer === undefined || jwks === undefined || forwardOriginalToken === undefined) return undefined;
  return { issuer, audiences, jwks, from, forwardOriginalToken, claimToHeaders };
}

function decodeJwks(f: Field): JwtRuleSpec['jwks'] | undefined {
  const uriField = f.child('jwksUri');
  const inlineField = f.child('jwks');
  if (uriField.absent === inlineField.absent) {
    f.report(uriField.absent ? 'Required' : 'InvalidValue', 'set exactly one of jwksUri (where Envoy fetches the issuer\'s keys) or jwks (the key set inline, as JSON text)');
    return undefined;
  }
  for (const k of ['jwksCacheDuration', 'jwksFetchTimeout']) {
    if (uriField.absent && !f.child(k).absent) f.child(k).report('InvalidValue', `${k} applies to keys fetched from jwksUri; an inline jwks is never fetched. Remove it`);
  }
  if (!inlineField.absent) {
    const text = inlineField.string({ expected: 'the JWKS as JSON text (a YAML block scalar: jwks: |)' });
    if (text === undefined) return undefined;
    const why = inlineJwksProblem(text);
    if (why) return inlineField.report('InvalidValue', `the inline JWKS ${why}`), undefined;
    return { inline: text };
  }
  const uri = uriField.string({ maxLength: 2048, expected: 'an http or https URL such as https://auth.example.com/.well-known/jwks.json' });
  const cacheDurationMs = f.child('jwksCacheDuration').absent ? 600_000 : f.child('jwksCacheDuration').duration({ minMs: 1000, maxMs: DAY_MS });
  const timeoutMs = f.child('jwksFetchTimeout').absent ? 5000 : f.child('jwksFetchTimeout').duration({ minMs: 1, maxMs: 60_000 });
  if (uri === undefined || cacheDurationMs === undefined || timeoutMs === undefined) return undefined;
  const url = parseJwksUrl(uri);
  if (typeof url === 'string') return uriField.report('InvalidValue', `"${uri}" ${url}`), undefined;
  return { uri, ...url, cacheDurationMs, timeoutMs };
}

function decodeClaimRule(f: Field, namespace: string): ClaimRuleSpec | undefined {
  if (!f.object({ known: ['claims', 'sources'] })) return undefined;
  const claims: ClaimRuleSpec['claims'] = [];
  if (!f.child('claims').absent) {
    for (const [claim, values] of f.child('claims').entries({ expected: 'a mapping of claim name to accepted values, e.g. {scope: [orders.read]}' })) {
      const list: string[] = [];
      for (const v of values.list({ minItems: 1, expected: 'the values this claim may have (a list claim, or a space-delimited scope, must contain one)' })) {
        const s = v.string({ maxLength: 1024 });
        if (s !== undefined) list.push(s);
      }
      if (claim === '') values.report('InvalidValue', 'a claim name may not be empty');
      else if (list.length > 0) claims.push({ claim, values: list });
    }
  }
  const sources: ClaimRuleSpec['sources'] = [];
  if (!f.child('sources').absent) {
    for (const s of f.child('sources').list({ minItems: 1, expected: 'service accounts such as [{kind: ServiceAccount, name: frontend}]' })) {
      const subject = decodeSubject(s, namespace, false);
      if (subject) sources.push({ ...subject, path: s.path });
    }
  }
  return { claims, sources };
}
