/**
 * Decoded resources the way Envoy's own config dump prints them: durations
 * as "1.5s", wrappers as bare values, Struct as plain JSON, Any expanded with
 * its "@type". For the admin API, so what an operator reads in Trellis
 * matches what they read in Envoy's /config_dump.
 */
import protobuf from 'protobufjs';
import { messageType } from './protos.ts';
import { messageNameOf } from './type-urls.ts';

type Json = Record<string, unknown>;

const WRAPPERS = /^google\.protobuf\.(Double|Float|Int64|UInt64|Int32|UInt32|Bool|String|Bytes)Value$/;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function duration(v: Json): string {
  const seconds = Number(v.seconds ?? 0);
  const nanos = Number(v.nanos ?? 0);
  const total = seconds + nanos / 1e9;
  return `${Number(total.toFixed(9))}s`;
}

function structValue(v: unknown): unknown {
  if (!isObject(v)) return v;
  if ('structValue' in v) return structJson(v.structValue);
  if ('listValue' in v) return ((v.listValue as Json)?.values as unknown[] | undefined)?.map(structValue) ?? [];
  if ('stringValue' in v) return v.stringValue;
  if ('numberValue' in v) return v.numberValue;
  if ('boolValue' in v) return v.boolValue;
  return null;
}

function structJson(v: unknown): Json {
  const out: Json = {};
  for (const [k, x] of Object.entries(((v as Json)?.fields as Json) ?? {})) out[k] = structValue(x);
  return out;
}

function convert(type: protobuf.Type, value: unknown): unknown {
  const name = type.fullName.replace(/^\./, '');
  if (!isObject(value)) return value;
  if (name === 'google.protobuf.Duration') return duration(value);
  if (WRAPPERS.test(name)) return value.value;
  if (name === 'google.protobuf.Struct') return structJson(value);
  if (name === 'google.protobuf.Any' && typeof value['@type'] === 'string') {
    const { '@type': at, ...rest } = value;
    try {
      return { '@type': at, ...(convertFields(messageType(messageNameOf(at as string)), rest) as Json) };
    } catch {
      return value;
    }
  }
  return convertFields(type, value);
}

function convertFields(type: protobuf.Type, obj: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(obj)) {
    const field = type.fields[k];
    if (!field) {
      out[k] = v;
      continue;
    }
    field.resolve();
    const ft = field.resolvedType;
    if (!(ft instanceof protobuf.Type)) out[k] = v;
    else if (field.map && isObject(v)) out[k] = Object.fromEntries(Object.entries(v).map(([mk, mv]) => [mk, convert(ft, mv)]));
    else if (Array.isArray(v)) out[k] = v.map((x) => convert(ft, x));
    else out[k] = convert(ft, v);
  }
  return out;
}

/** `bytes` of a resource of `typeUrl`, decoded to Envoy-style JSON. */
export function envoyJson(typeUrl: string, bytes: Uint8Array): Json {
  const T = messageType(messageNameOf(typeUrl));
  const obj = T.toObject(T.decode(bytes), { longs: String, enums: String, bytes: String, json: true }) as Json;
  return convertFields(T, obj);
}
