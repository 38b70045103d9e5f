/**
 * A resource's protobuf bytes, from the proto3-JSON object a builder made.
 *
 * A route configuration is encoded as its parts (issue 14): each virtual host
 * once per object, the configuration without them once, and the bytes
 * spliced. In a 1,000-service mesh a route configuration carries 1,000
 * virtual hosts, and a policy, split or route edit changes one of them: the
 * translator hands back the other 999 objects it built before
 * (translate/translate.ts, its virtual-host memo), so the edit encodes one
 * virtual host instead of 1,000 in every namespace's route configuration
 * (~28 ms each, ten of them in the benchmark's mesh).
 *
 * The splice gives the very bytes encoding the whole message gives:
 * protobufjs writes a message's fields in field-number order
 * (protobufjs/src/encoder.js sorts them by id), and RouteConfiguration's only
 * field before `virtual_hosts` (2) is `name` (1); so the whole message is
 * [name][virtual_hosts…][the rest], which is what is assembled here.
 * message-encoding.test.ts compares the two on every fixture.
 */
import type protobuf from 'protobufjs';
import { messageType } from '../xds/protos.ts';
import { fromProto3Json } from '../xds/proto-json.ts';
import { messageNameOf, TypeUrl, type ResourceTypeUrl } from '../xds/type-urls.ts';
import { lenField } from '../xds/wire.ts';

/** RouteConfiguration.virtual_hosts */
const VIRTUAL_HOSTS_FIELD = 2;
/** RouteConfiguration.name: field 1, length-delimited */
const NAME_TAG = 0x0a;

/** The whole message through protobufjs: proto3 JSON → message → checked → bytes. */
export function encodeWhole(type: protobuf.Type, resource: Record<string, unknown>): Buffer {
  const message = type.fromObject(fromProto3Json(type, resource));
  const err = type.verify(message);
  if (err) throw new Error(err);
  return Buffer.from(type.encode(message).finish());
}

/** Per virtual-host object: its bytes framed as RouteConfiguration field 2. Weak: a host nobody holds takes its bytes along. */
const framedHosts = new WeakMap<object, Buffer>();

function framedHost(host: object): Buffer {
  let b = framedHosts.get(host);
  if (!b) {
    b = lenField(VIRTUAL_HOSTS_FIELD, encodeWhole(messageType('envoy.config.route.v3.VirtualHost'), host as Record<string, unknown>));
    framedHosts.set(host, b);
  }
  return b;
}

/** Where the leading `name` field of an encoded RouteConfiguration ends, or -1 if it does not start with one. */
function afterName(head: Buffer): number {
  if (head[0] !== NAME_TAG) return -1;
  let len = 0;
  let shift = 0;
  let i = 1;
  for (; i < head.length && i < 6; i++) {
    len |= (head[i]! & 0x7f) << shift;
    shift += 7;
    if ((head[i]! & 0x80) === 0) break;
  }
  return i + 1 + len;
}

function encodeRouteConfiguration(type: protobuf.Type, resource: Record<string, unknown>): Buffer {
  const hosts = resource.virtual_hosts;
  if (!Array.isArray(hosts) || hosts.length === 0) return encodeWhole(type, resource);
  let framed: Buffer[];
  try {
    framed = hosts.map((h: unknown) => framedHost(h as object));
  } catch {
    // An invalid host: the whole message's encode names it with its place (virtual_hosts[i].…).
    return encodeWhole(type, resource);
  }
  const head = encodeWhole(type, { ...resource, virtual_hosts: [] });
  const cut = afterName(head);
  if (cut < 0) return encodeWhole(type, resource);
  return Buffer.concat([head.subarray(0, cut), ...framed, head.subarray(cut)]);
}

/** A resource's bytes; throws what protobufjs or the proto3-JSON reading finds wrong. */
export function encodeMessage(typeUrl: ResourceTypeUrl, resource: Record<string, unknown>): Buffer {
  const type = messageType(messageNameOf(typeUrl));
  return typeUrl === TypeUrl.Route ? encodeRouteConfiguration(type, resource) : encodeWhole(type, resource);
}
