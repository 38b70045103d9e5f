/**
 * The proto3 JSON mapping for the well-known types that protobufjs's
 * `fromObject` does not do itself: Duration ("1.5s"), Timestamp (RFC 3339),
 * wrappers (a bare number/bool/string for UInt32Value and friends), Struct
 * and Value (plain JSON), and Any (`@type` plus the message's own fields,
 * converted recursively). With it, builders and fixture files write Envoy
 * config the way Envoy's YAML does (`connect_timeout: 0.25s`,
 * `max_retries: 3`) and errors name the field path.
 */
import protobuf from 'protobufjs';
import { messageNameOf } from './type-urls.ts';

export class ProtoJsonError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path || '(root)'}: ${message}`);
  }
}

const WRAPPERS = new Set([
  'google.protobuf.DoubleValue',
  'google.protobuf.FloatValue',
  'google.protobuf.Int64Value',
  'google.protobuf.UInt64Value',
  'google.protobuf.Int32Value',
  'google.protobuf.UInt32Value',
  'google.protobuf.BoolValue',
  'google.protobuf.StringValue',
  'google.protobuf.BytesValue',
]);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

export function parseDuration(value: string, path: string): { seconds: number; nanos: number } {
  const m = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(value.trim());
  if (!m) throw new ProtoJsonError(path, `"${value}" is not a duration; expected seconds with an "s" suffix, like "0.25s" or "30s"`);
  const sign = m[1] ? -1 : 1;
  const seconds = Number(m[2]);
  const nanos = m[3] ? Number(m[3].padEnd(9, '0')) : 0;
  return { seconds: sign * seconds, nanos: sign * nanos };
}

// protobufjs defines google/protobuf/struct.proto itself (protobuf.common), with camelCase
// field names whatever keepCase says: snake_case kinds were silently dropped by fromObject.
const VALUE_KINDS: Record<string, string> = {
  nullValue: 'nullValue',
  numberValue: 'numberValue',
  stringValue: 'stringValue',
  boolValue: 'boolValue',
  structValue: 'structValue',
  listValue: 'listValue',
};
const CAMEL_KINDS = new Set(Object.values(VALUE_KINDS));

function toValue(v: unknown): Record<string, unknown> {
  if (v === null || v === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  if (isPlainObject(v)) return { structValue: toStruct(v) };
  return { stringValue: String(v) };
}

/** A Value already written as its message (`{stringValue: "x"}`), with the kind renamed for protobufjs. */
function explicitValue(v: unknown): Record<string, unknown> | undefined {
  if (!isPlainObject(v)) return undefined;
  const keys = Object.keys(v);
  if (keys.length !== 1 || !(keys[0]! in VALUE_KINDS || CAMEL_KINDS.has(keys[0]!))) return undefined;
  return { [VALUE_KINDS[keys[0]!] ?? keys[0]!]: v[keys[0]!] };
}

function toStruct(o: Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) fields[k] = toValue(v);
  return { fields };
}

function convertMessage(type: protobuf.Type, value: unknown, path: string, root: protobuf.Root): unknown {
  const name = type.fullName.replace(/^\./, '');
  if (name === 'google.protobuf.Duration') {
    if (typeof value === 'string') return parseDuration(value, path);
    return value;
  }
  if (name === 'google.protobuf.Timestamp' && typeof value === 'string') {
    const ms = Date.parse(value);
    if (Number.isNaN(ms)) throw new ProtoJsonError(path, `"${value}" is not an RFC 3339 timestamp`);
    return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
  }
  if (WRAPPERS.has(name) && !isPlainObject(value)) return { value };
  if (name === 'google.protobuf.Struct' && isPlainObject(value) && !('fields' in value)) return toStruct(value);
  if (name === 'google.protobuf.Value') return explicitValue(value) ?? toValue(value);
  if (name === 'google.protobuf.Any' && isPlainObject(value) && typeof value['@type'] === 'string') {
    const typeUrl = value['@type'];
    let inner: protobuf.Type;
    try {
      inner = root.lookupType(messageNameOf(typeUrl));
    } catch {
      throw new ProtoJsonError(path, `unknown message type in @type "${typeUrl}"; it is not in the Envoy protos Trellis loads (protos/envoy-manifest.json)`);
    }
    const { '@type': _t, ...rest } = value;
    const converted = convertFields(inner, rest, path, root);
    const bytes = inner.encode(inner.fromObject(converted)).finish();
    return { type_url: typeUrl, value: bytes };
  }
  if (!isPlainObject(value)) return value;
  return convertFields(type, value, path, root);
}

function convertFields(type: protobuf.Type, obj: Record<string, unknown>, path: string, root: protobuf.Root): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(obj)) {
    const field = type.fields[key];
    const here = path ? `${path}.${key}` : key;
    if (!field) {
      // fromObject would silently drop it; an operator's typo must not vanish.
      throw new ProtoJsonError(here, `unknown field for ${type.fullName.replace(/^\./, '')}`);
    }
    field.resolve();
    const ftype = field.resolvedType;
    if (!(ftype instanceof protobuf.Type) || v === null || v === undefined) {
      out[key] = v;
      continue;
    }
    if (field.map) {
      if (!isPlainObject(v)) throw new ProtoJsonError(here, 'expected a map');
      const m: Record<string, unknown> = {};
      for (const [mk, mv] of Object.entries(v)) m[mk] = convertMessage(ftype, mv, `${here}[${mk}]`, root);
      out[key] = m;
    } else if (field.repeated) {
      if (!Array.isArray(v)) throw new ProtoJsonError(here, 'expected a list');
      out[key] = v.map((item, i) => convertMessage(ftype, item, `${here}[${i}]`, root));
    } else {
      out[key] = convertMessage(ftype, v, here, root);
    }
  }
  return out;
}

/** Converts a proto3-JSON-shaped object (snake_case names) into what `Type.fromObject` takes. */
export function fromProto3Json(type: protobuf.Type, obj: Record<string, unknown>): Record<string, unknown> {
  return convertFields(type, obj, '', type.root as protobuf.Root);
}
