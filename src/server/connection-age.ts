/**
 * XDS_RULES 28's maximum connection age (gRFC A9: GOAWAY at the age, plus a
 * per-connection jitter of ±10%, then a grace for open streams), kept here
 * rather than by grpc-js, for memory (issue 16 bug 14).
 *
 * Why: grpc-js arms one unref'd timer per connection at age + a jitter in
 * fractions of a millisecond. Node keys its timer lists by duration and, for
 * an unref'd timer, keeps the emptied list after clearTimeout until the
 * list's due time (lib/internal/timers.js, unenroll: "we only delete refed
 * lists"). So every connection left its own list behind (~150 B) for up to
 * 33 minutes at the default age of 30, up to 360,000 of them: a reconnect
 * storm, or anyone opening connections, grew the heap by the connection.
 * Here the jitter is in whole seconds, so all connections share at most
 * 2 * age / 10 s + 1 lists (361 at 30 minutes).
 */
import type { EventEmitter } from 'node:events';
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { onHttp2Server } from './http2-servers.ts';

const AGE = 'grpc.max_connection_age_ms';
const GRACE = 'grpc.max_connection_age_grace_ms';
/** GOAWAY's debug data and last stream id, as grpc-js and gRFC A9 send them. */
const MAX_AGE = Buffer.from('max_age');
const LAST_STREAM_ID = 2 ** 31 - 1;
/** grpc-js's "unlimited" age, and the longest delay a Node timer takes (longer ones fire after 1 ms). */
const UNLIMITED_MS = 2 ** 31 - 1;

/** A duration within ±10% of `ageMs`, in whole seconds of jitter (see the file comment). */
export function jitteredAgeMs(ageMs: number, random: () => number = Math.random): number {
  const jitterS = Math.round(((random() * 2 - 1) * ageMs) / 10 / 1000);
  return Math.min(UNLIMITED_MS, Math.max(1, ageMs + jitterS * 1000));
}

/** Ages every HTTP/2 session `h2` accepts: GOAWAY at its age, closed after the grace. */
function ageSessions(h2: EventEmitter, ageMs: number, graceMs: number): void {
  h2.on('session', (session: http2.ServerHttp2Session) => {
    let grace: NodeJS.Timeout | undefined;
    const age = setTimeout(() => {
      try {
        session.goaway(http2.constants.NGHTTP2_NO_ERROR, LAST_STREAM_ID, MAX_AGE);
      } catch {
        session.destroy(); // already closing
        return;
      }
      session.close(); // no new streams; open ones finish, or the grace ends them
      if (graceMs >= 0) grace = setTimeout(() => session.destroy(), graceMs).unref();
    }, jitteredAgeMs(ageMs)).unref();
    session.once('close', () => {
      clearTimeout(age);
      clearTimeout(grace);
    });
  });
}

/**
 * A grpc-js server with the options given, whose connections Trellis ages
 * itself (grpc-js is not told the age), hooking each of its HTTP/2 servers
 * (http2-servers.ts); should grpc-js's internals change, grpc-js ages
 * connections as before.
 */
export function serverWithConnectionAge(options: grpc.ServerOptions): grpc.Server {
  const ageMs = options[AGE] as number | undefined;
  if (ageMs === undefined || ageMs <= 0 || ageMs >= UNLIMITED_MS) return new grpc.Server(options);
  const graceMs = (options[GRACE] as number | undefined) ?? -1;
  const { [AGE]: _age, [GRACE]: _grace, ...rest } = options;
  const server = new grpc.Server(rest);
  return onHttp2Server(server, (h2) => ageSessions(h2, ageMs, graceMs)) ? server : new grpc.Server(options);
}
