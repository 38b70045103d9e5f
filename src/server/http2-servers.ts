/**
 * The HTTP/2 servers inside a grpc-js server, which grpc-js keeps private
 * (1.14: its `http2Servers` map, written when a port starts listening, before
 * any connection arrives). The one place Trellis reaches into grpc-js for
 * them: connection ageing (connection-age.ts) and the watch of refused TLS
 * handshakes (xds-server.ts) each hook every server as it is recorded.
 */
import type { EventEmitter } from 'node:events';
import type * as grpc from '@grpc/grpc-js';

type Hook = (h2: EventEmitter) => void;

const hooks = new WeakMap<grpc.Server, Hook[]>();

/**
 * Calls `hook` with each HTTP/2 server `server` listens with, those already
 * listening included. False when grpc-js's internals are not the ones this
 * was written for (the caller then does without, and says so).
 */
export function onHttp2Server(server: grpc.Server, hook: Hook): boolean {
  const internals = server as unknown as { http2Servers?: unknown };
  const known = hooks.get(server);
  if (known) {
    known.push(hook);
    for (const h2 of (internals.http2Servers as Map<EventEmitter, unknown>).keys()) hook(h2);
    return true;
  }
  if (!(internals.http2Servers instanceof Map) || internals.http2Servers.size > 0) return false;
  const all: Hook[] = [hook];
  hooks.set(server, all);
  internals.http2Servers = new (class extends Map<EventEmitter, unknown> {
    override set(h2: EventEmitter, info: unknown): this {
      if (!this.has(h2)) for (const h of all) h(h2);
      return super.set(h2, info);
    }
  })();
  return true;
}
