/**
 * DiscoveryRequest bytes framed by hand for the load generators: a request
 * is a fixed tail per type (names + type_url) after a small head per ACK, so
 * thousands of streams ACK without encoding the same names again.
 * Field numbers: envoy/service/discovery/v3/discovery.proto.
 */
import protobuf from 'protobufjs';

const LEN = 2;

function writeString(w: protobuf.Writer, field: number, s: string): void {
  w.uint32((field << 3) | LEN).string(s);
}

/** resource_names = 3 and type_url = 4: the same in every request of a type. */
export function requestTail(typeUrl: string, names: readonly string[]): Buffer {
  const w = protobuf.Writer.create();
  for (const n of names) writeString(w, 3, n);
  writeString(w, 4, typeUrl);
  return Buffer.from(w.finish());
}

/** node = 2 { id = 1, cluster = 2, user_agent_name = 6 }: sent with the first request only (XDS_RULES 21). */
export function nodeField(id: string, userAgent?: string): Buffer {
  const w = protobuf.Writer.create();
  w.uint32((2 << 3) | LEN).fork();
  writeString(w, 1, id);
  writeString(w, 2, 'bench');
  if (userAgent) writeString(w, 6, userAgent);
  w.ldelim();
  return Buffer.from(w.finish());
}

/** version_info = 1, response_nonce = 5 */
export function ackHead(version: string, nonce: string): Buffer {
  const w = protobuf.Writer.create();
  if (version) writeString(w, 1, version);
  writeString(w, 5, nonce);
  return Buffer.from(w.finish());
}
