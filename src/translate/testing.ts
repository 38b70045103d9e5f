/**
 * Test helpers for the translator's builder tests: build a model from inline
 * YAML the way an operator writes it, freeze it to prove builders never
 * mutate their input, and check builder output against the Envoy protos.
 * Used by tests only.
 */
import protobuf from 'protobufjs';
import { encodeWhole } from '../cache/message-encoding.ts';
import { encodeResource, type VersionedResource } from '../cache/resource.ts';
import { checkConsistency, Snapshot, TypeSet } from '../cache/snapshot.ts';
import type { MeshModel } from '../model/types.ts';
import { buildWith, problemsOf, brief } from '../model/testing.ts';
import { messageType } from '../xds/protos.ts';
import { messageNameOf, TypeUrl, type ResourceTypeUrl } from '../xds/type-urls.ts';
import type { ProxyResources } from './translate.ts';

export { BASE_MESH, buildWith } from '../model/testing.ts';

export const STRICT = `apiVersion: trellis.io/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec:
  authorization: {mode: Strict}
---
`;

/** The base mesh plus `intents`; a fixture with an error is a broken test, so it throws. */
export function meshWith(intents = '', extra: Record<string, string> = {}): MeshModel {
  const result = buildWith(intents, extra);
  const errors = problemsOf(result).filter((p) => p.severity === 'error');
  if (errors.length > 0) throw new Error(`test fixture has errors: ${JSON.stringify(errors.map(brief))}`);
  return result.model;
}

/**
 * Freezes a value and everything reachable from it, Maps and Sets included
 * (whose mutators are replaced by ones that throw, since Object.freeze does
 * not stop `Map.prototype.set`). Returns the same value.
 */
export function deepFreeze<T>(value: T, seen = new Set<unknown>()): T {
  if (typeof value !== 'object' || value === null || seen.has(value)) return value;
  seen.add(value);
  if (value instanceof Map || value instanceof Set) {
    const refuse = () => {
      throw new TypeError('mutating a frozen collection');
    };
    for (const m of ['set', 'add', 'delete', 'clear']) if (m in value) Object.defineProperty(value, m, { value: refuse });
    for (const [k, v] of value instanceof Map ? value : [...value].map((v) => [v, v] as const)) {
      deepFreeze(k, seen);
      deepFreeze(v, seen);
    }
  } else {
    for (const v of Object.values(value)) deepFreeze(v, seen);
  }
  return Object.freeze(value);
}

const TYPES: [keyof Omit<ProxyResources, 'identities'>, ResourceTypeUrl][] = [
  ['clusters', TypeUrl.Cluster],
  ['endpoints', TypeUrl.Endpoint],
  ['listeners', TypeUrl.Listener],
  ['routes', TypeUrl.Route],
  ['secrets', TypeUrl.Secret],
];

/** Encodes every resource of a translation (throws on anything the Envoy protos reject). */
export function encodeAll(out: ProxyResources): VersionedResource[] {
  const encoded: VersionedResource[] = [];
  for (const [field, typeUrl] of TYPES) {
    for (const r of out[field]) {
      const vr = encodeResource(typeUrl, r);
      // Route configurations are spliced from their hosts' bytes (cache/message-encoding.ts): the very bytes of the whole message.
      if (typeUrl === TypeUrl.Route && !vr.value.equals(encodeWhole(messageType(messageNameOf(typeUrl)), r as Record<string, unknown>))) {
        throw new Error(`route configuration "${vr.name}": spliced bytes differ from the whole message's encoding`);
      }
      encoded.push(vr);
    }
  }
  return encoded;
}

/**
 * What is wrong with one proxy's translation as Envoy would take it: what the
 * snapshot's consistency check finds (a listener or route naming a cluster the
 * proxy does not hold...) and enum values the protos do not define. Empty: valid.
 */
export function translationProblems(out: ProxyResources): string[] {
  const enc = encodeAll(out);
  const set = (t: ResourceTypeUrl) => TypeSet.of(t, enc.filter((r) => r.typeUrl === t));
  const snapshot = new Snapshot({ [TypeUrl.Cluster]: set(TypeUrl.Cluster), [TypeUrl.Endpoint]: set(TypeUrl.Endpoint), [TypeUrl.Listener]: set(TypeUrl.Listener), [TypeUrl.Route]: set(TypeUrl.Route) });
  return [
    ...checkConsistency(snapshot).map((p) => JSON.stringify(p)),
    ...resourcesOf(out).flatMap(([typeUrl, r]) => unknownEnums(typeUrl, r).map((e) => `${String(r.name ?? r.cluster_name)}: ${e}`)),
  ];
}

/** Everything a translation holds, with its type URL, for checks that apply to all resources. */
export function resourcesOf(out: ProxyResources): [ResourceTypeUrl, Record<string, unknown>][] {
  return TYPES.flatMap(([field, typeUrl]) => out[field].map((r) => [typeUrl, r as Record<string, unknown>] as [ResourceTypeUrl, Record<string, unknown>]));
}

/**
 * Enum values the Envoy protos do not define, by field path. encodeResource
 * rejects unknown fields but protobufjs turns an unknown enum name into the
 * default value silently, so a misspelt `lb_policy` would encode as ROUND_ROBIN.
 * The generated types reject one at compile time in typed builders; this
 * catches what reaches a builder's output past them (casts, spreads of
 * untyped objects).
 */
export function unknownEnums(typeUrl: ResourceTypeUrl, resource: object): string[] {
  const problems: string[] = [];
  walk(messageType(messageNameOf(typeUrl)), resource as Record<string, unknown>, '', problems);
  return problems;
}

function walk(type: protobuf.Type, obj: Record<string, unknown>, path: string, problems: string[]): void {
  for (const [key, v] of Object.entries(obj)) {
    if (key === '@type' || v === undefined || v === null) continue;
    const field = type.fields[key];
    if (!field) continue; // unknown fields are encodeResource's to report
    field.resolve();
    const here = path ? `${path}.${key}` : key;
    const items: [string, unknown][] = field.map
      ? Object.entries(v as Record<string, unknown>).map(([k, x]) => [`${here}[${k}]`, x])
      : field.repeated
        ? (v as unknown[]).map((x, i) => [`${here}[${i}]`, x])
        : [[here, v]];
    for (const [p, item] of items) check(field.resolvedType, item, p, problems);
  }
}

function check(t: protobuf.Type | protobuf.Enum | null, v: unknown, path: string, problems: string[]): void {
  if (t instanceof protobuf.Enum) {
    if (typeof v === 'string' ? !(v in t.values) : typeof v === 'number' ? !Object.values(t.values).includes(v) : true) problems.push(`${path}: ${String(v)}`);
    return;
  }
  if (!(t instanceof protobuf.Type) || typeof v !== 'object' || v === null || Array.isArray(v)) return;
  const o = v as Record<string, unknown>;
  const inner = t.fullName === '.google.protobuf.Any' && typeof o['@type'] === 'string' ? messageType(messageNameOf(o['@type'])) : t;
  walk(inner, o, path, problems);
}
