/**
 * Bytes on the wire for the discovery protocol.
 *
 * Responses are framed by hand from pre-encoded parts so that a resource's
 * bytes are produced once per version and then only copied, whatever the
 * number of streams that receive it (DESIGN: "bytes encoded once and shared").
 * A DiscoveryResponse is `version_info`, `type_url`, `nonce` (a few bytes per
 * stream) plus, for each resource, field 2 holding an `Any`; that field is
 * stored ready-made on the resource (see cache/resource.ts). Requests are
 * decoded with protobufjs from the real Envoy protos.
 *
 * Field numbers: envoy/service/discovery/v3/discovery.proto.
 */
import protobuf from 'protobufjs';
import { messageType } from './protos.ts';
import { ResponseBytes } from './response-bytes.ts';

const WIRE_LEN = 2;

function tag(field: number, wire: number): number {
  return (field << 3) | wire;
}

/** Length-delimited field `field` holding `payload`, as one buffer. */
export function lenField(field: number, payload: Uint8Array): Buffer {
  const w = protobuf.Writer.create();
  w.uint32(tag(field, WIRE_LEN)).bytes(payload);
  return Buffer.from(w.finish());
}

/** google.protobuf.Any { type_url = 1; value = 2 } */
export function encodeAny(typeUrl: string, value: Uint8Array): Buffer {
  const w = protobuf.Writer.create();
  w.uint32(tag(1, WIRE_LEN)).string(typeUrl);
  w.uint32(tag(2, WIRE_LEN)).bytes(value);
  return Buffer.from(w.finish());
}

/** DeltaDiscoveryResponse.Resource { version = 1; resource = 2; name = 3 } */
export function encodeDeltaResource(name: string, version: string, any: Uint8Array): Buffer {
  const w = protobuf.Writer.create();
  w.uint32(tag(1, WIRE_LEN)).string(version);
  w.uint32(tag(2, WIRE_LEN)).bytes(any);
  w.uint32(tag(3, WIRE_LEN)).string(name);
  return Buffer.from(w.finish());
}

export interface SotwResponse {
  versionInfo: string;
  typeUrl: string;
  nonce: string;
  /** each a ready-made DiscoveryResponse field 2 (tag + length + Any) */
  resourceFields: readonly Buffer[];
}

export interface DeltaResponse {
  systemVersionInfo: string;
  typeUrl: string;
  nonce: string;
  /** each a ready-made DeltaDiscoveryResponse field 2 (tag + length + Resource) */
  resourceFields: readonly Buffer[];
  removed: readonly string[];
}

function header(fields: Array<[number, string]>): Buffer {
  const w = protobuf.Writer.create();
  for (const [field, value] of fields) if (value) w.uint32(tag(field, WIRE_LEN)).string(value);
  return Buffer.from(w.finish());
}

/**
 * Fields 1 (the version) and 4 (type_url) of a response, as one buffer kept
 * per type while the version stays: a change sends the same pair to every
 * stream (10,000 in the benchmark), so only the nonce is encoded per
 * response (issue 14: server CPU per push).
 */
const versionAndType = new Map<string, { version: string; bytes: Buffer }>();

function versionAndTypeField(version: string, typeUrl: string): Buffer {
  const last = versionAndType.get(typeUrl);
  if (last && last.version === version) return last.bytes;
  const bytes = header([
    [1, version],
    [4, typeUrl],
  ]);
  versionAndType.set(typeUrl, { version, bytes });
  return bytes;
}

/** Field 5, the nonce: a few ASCII characters (base-36 counters); anything else through protobufjs. */
function nonceField(nonce: string): Buffer {
  if (nonce.length === 0) return EMPTY;
  if (nonce.length > 127 || !/^[\x20-\x7e]*$/.test(nonce)) return header([[5, nonce]]);
  const b = Buffer.allocUnsafe(2 + nonce.length);
  b[0] = tag(5, WIRE_LEN);
  b[1] = nonce.length;
  b.write(nonce, 2, 'latin1');
  return b;
}

const EMPTY = Buffer.alloc(0);

export function encodeSotwResponse(r: SotwResponse): ResponseBytes {
  // version_info = 1, resources = 2, type_url = 4, nonce = 5; field order on
  // the wire is free, parsers accept any order.
  return new ResponseBytes([versionAndTypeField(r.versionInfo, r.typeUrl), nonceField(r.nonce), ...r.resourceFields]);
}

export function encodeDeltaResponse(r: DeltaResponse): ResponseBytes {
  // system_version_info = 1, resources = 2, type_url = 4, nonce = 5, removed_resources = 6
  const parts: Buffer[] = [versionAndTypeField(r.systemVersionInfo, r.typeUrl), nonceField(r.nonce), ...r.resourceFields];
  if (r.removed.length > 0) {
    const w = protobuf.Writer.create();
    for (const name of r.removed) w.uint32(tag(6, WIRE_LEN)).string(name);
    parts.push(Buffer.from(w.finish()));
  }
  return new ResponseBytes(parts);
}

/** The parts of envoy.config.core.v3.Node that Trellis reads. */
export interface NodeInfo {
  id: string;
  cluster: string;
  locality?: { region?: string; zone?: string; sub_zone?: string };
  user_agent_name?: string;
  user_agent_version?: string;
  client_features?: string[];
  metadata?: Record<string, unknown>;
}

export interface ErrorDetail {
  code: number;
  message: string;
}

export interface SotwRequest {
  version_info: string;
  node?: NodeInfo;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  error_detail?: ErrorDetail;
}

export interface DeltaRequest {
  node?: NodeInfo;
  type_url: string;
  resource_names_subscribe: string[];
  resource_names_unsubscribe: string[];
  initial_resource_versions: Record<string, string>;
  response_nonce: string;
  error_detail?: ErrorDetail;
}

const decodeOptions: protobuf.IConversionOptions = { longs: Number, enums: String, defaults: true, arrays: true, objects: true };

function nodeFrom(raw: unknown, metadata: StructObject | undefined): NodeInfo | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const n = raw as Record<string, unknown>;
  const locality = n.locality as NodeInfo['locality'] | undefined;
  const node: NodeInfo = {
    id: String(n.id ?? ''),
    cluster: String(n.cluster ?? ''),
    locality: locality ?? undefined,
    user_agent_name: typeof n.user_agent_name === 'string' ? n.user_agent_name : undefined,
    user_agent_version: typeof n.user_agent_version === 'string' ? n.user_agent_version : undefined,
    client_features: Array.isArray(n.client_features) ? (n.client_features as string[]) : undefined,
  };
  if (metadata) node.metadata = structToJson(metadata);
  return node;
}

interface StructObject {
  fields?: Record<string, ValueObject>;
}
interface ValueObject {
  nullValue?: unknown;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: StructObject;
  listValue?: { values?: ValueObject[] };
}

/** google.protobuf.Struct as decoded → the plain JSON object it stands for (node metadata). */
export function structToJson(s: StructObject): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s.fields ?? {})) out[k] = valueToJson(v);
  return out;
}

function valueToJson(v: ValueObject): unknown {
  if (v.structValue !== undefined) return structToJson(v.structValue);
  if (v.listValue !== undefined) return (v.listValue.values ?? []).map(valueToJson);
  return v.stringValue ?? v.numberValue ?? v.boolValue ?? null;
}

/** Read without defaults, so a Value's oneof says which kind it is. */
function metadataOf(rawNode: unknown): StructObject | undefined {
  const raw = (rawNode as { metadata?: unknown } | undefined)?.metadata;
  if (!raw) return undefined;
  const T = messageType('google.protobuf.Struct');
  return T.toObject(raw as protobuf.Message, { defaults: false, longs: Number, enums: String }) as StructObject;
}

function errorFrom(raw: unknown): ErrorDetail | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const e = raw as { code?: number; message?: string };
  return { code: e.code ?? 0, message: e.message ?? '' };
}

export function decodeSotwRequest(bytes: Uint8Array): SotwRequest {
  const T = messageType('envoy.service.discovery.v3.DiscoveryRequest');
  const msg = T.decode(bytes);
  const o = T.toObject(msg, decodeOptions) as Record<string, unknown>;
  const hasError = (msg as unknown as { error_detail?: unknown }).error_detail != null;
  return {
    version_info: String(o.version_info ?? ''),
    node: (msg as unknown as { node?: unknown }).node != null ? nodeFrom(o.node, metadataOf((msg as unknown as { node?: unknown }).node)) : undefined,
    resource_names: (o.resource_names as string[]) ?? [],
    type_url: String(o.type_url ?? ''),
    response_nonce: String(o.response_nonce ?? ''),
    error_detail: hasError ? errorFrom(o.error_detail) : undefined,
  };
}

export function decodeDeltaRequest(bytes: Uint8Array): DeltaRequest {
  const T = messageType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
  const msg = T.decode(bytes);
  const o = T.toObject(msg, decodeOptions) as Record<string, unknown>;
  const hasError = (msg as unknown as { error_detail?: unknown }).error_detail != null;
  return {
    node: (msg as unknown as { node?: unknown }).node != null ? nodeFrom(o.node, metadataOf((msg as unknown as { node?: unknown }).node)) : undefined,
    type_url: String(o.type_url ?? ''),
    resource_names_subscribe: (o.resource_names_subscribe as string[]) ?? [],
    resource_names_unsubscribe: (o.resource_names_unsubscribe as string[]) ?? [],
    initial_resource_versions: (o.initial_resource_versions as Record<string, string>) ?? {},
    response_nonce: String(o.response_nonce ?? ''),
    error_detail: hasError ? errorFrom(o.error_detail) : undefined,
  };
}

/** Encoders for requests: used by tests and the benchmark's load generator, which speak the real protocol. */
export function encodeSotwRequest(r: Partial<SotwRequest>): Buffer {
  const T = messageType('envoy.service.discovery.v3.DiscoveryRequest');
  return Buffer.from(T.encode(T.fromObject(r)).finish());
}

export function encodeDeltaRequest(r: Partial<DeltaRequest>): Buffer {
  const T = messageType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
  return Buffer.from(T.encode(T.fromObject(r)).finish());
}

export interface DecodedResource {
  name?: string;
  version?: string;
  typeUrl: string;
  value: Record<string, unknown>;
}

export function decodeAnyValue(typeUrl: string, value: Uint8Array): Record<string, unknown> {
  const T = messageType(typeUrl.slice(typeUrl.lastIndexOf('/') + 1));
  return T.toObject(T.decode(value), { longs: String, enums: String, bytes: String, json: true }) as Record<string, unknown>;
}

/** Full decode of a response; for tests, config dumps and the load generator's checks. */
export function decodeSotwResponse(bytes: Uint8Array): {
  version_info: string;
  type_url: string;
  nonce: string;
  resources: DecodedResource[];
} {
  const T = messageType('envoy.service.discovery.v3.DiscoveryResponse');
  const msg = T.decode(bytes) as unknown as {
    version_info: string;
    type_url: string;
    nonce: string;
    resources: Array<{ type_url: string; value: Uint8Array }>;
  };
  return {
    version_info: msg.version_info,
    type_url: msg.type_url,
    nonce: msg.nonce,
    resources: msg.resources.map((a) => ({ typeUrl: a.type_url, value: decodeAnyValue(a.type_url, a.value) })),
  };
}

export function decodeDeltaResponse(bytes: Uint8Array): {
  system_version_info: string;
  type_url: string;
  nonce: string;
  resources: DecodedResource[];
  removed_resources: string[];
} {
  const T = messageType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
  const msg = T.decode(bytes) as unknown as {
    system_version_info: string;
    type_url: string;
    nonce: string;
    removed_resources: string[];
    resources: Array<{ name: string; version: string; resource?: { type_url: string; value: Uint8Array } }>;
  };
  return {
    system_version_info: msg.system_version_info,
    type_url: msg.type_url,
    nonce: msg.nonce,
    removed_resources: msg.removed_resources ?? [],
    resources: msg.resources.map((r) => ({
      name: r.name,
      version: r.version,
      typeUrl: r.resource?.type_url ?? '',
      value: r.resource ? decodeAnyValue(r.resource.type_url, r.resource.value) : {},
    })),
  };
}

