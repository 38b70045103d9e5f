/**
 * Clients that refuse the xDS port's certificate because they trust a root
 * this Trellis does not hold: the one sign, on the wire, of a state dir lost
 * as a whole (trust-history.ts catches a lost ca/ whose state dir survived;
 * a state dir lost entirely looks like a first start). It also catches a
 * proxy left on an old bootstrap after `trellis ca rotate --finish`.
 *
 * The sign: Envoy (BoringSSL) ends the handshake with the TLS alert
 * unknown_ca (48) when no root it trusts signed our certificate; Node
 * reports it on the server as ERR_SSL_TLSV1_ALERT_UNKNOWN_CA. (Node and
 * grpc-js clients verify after the handshake and send no alert, so they are
 * not counted.) Each is counted; the first is logged at error, later ones at
 * most once a minute with the number since, so a reconnect loop (Envoy
 * retries every few seconds) or a hostile client cannot flood the log.
 *
 * Any client can send that alert, so it must never take readiness away (a
 * stranger could then pull every replica out of service): it is a named
 * condition for operators, not a failure.
 */
import client from 'prom-client';
import type { Logger } from '../log.ts';

const UNKNOWN_CA = 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA';
const LOG_EVERY_MS = 60_000;
/** A refusal older than this no longer makes the condition: the proxy was re-bootstrapped or is gone. */
const RECENT_MS = 10 * 60_000;

export interface UntrustedRootReport {
  /** Handshakes refused with unknown_ca since start (the last within 10 minutes). */
  rejections: number;
  lastAt: string;
  /** What it means and what to do, for /readyz and the log. */
  message: string;
}

export const UNTRUSTED_ROOT_MESSAGE =
  'TLS clients refuse the xDS serving certificate: they trust a root this Trellis does not hold (TLS alert unknown_ca). ' +
  'If the state dir was lost, restore it from a backup; if the root was replaced on purpose, re-bootstrap those proxies (docs/security.md, "Lost CA state")';

export class UntrustedRootWatch {
  readonly #log: Logger;
  readonly #clock: () => number;
  readonly #counter: client.Counter;
  #rejections = 0;
  #lastAt = 0;
  #loggedAt = -Infinity;
  #unlogged = 0;

  constructor(opts: { log: Logger; registry: client.Registry; clock?: () => number }) {
    this.#log = opts.log;
    this.#clock = opts.clock ?? Date.now;
    this.#counter = new client.Counter({
      name: 'trellis_tls_untrusted_root_total',
      help: 'TLS handshakes on the xDS port that the client refused because it trusts another root (alert unknown_ca)',
      registers: [opts.registry],
    });
  }

  /**
   * A failed TLS handshake on the xDS port; true if it was this sign. (Node
   * has already dropped the socket's address when it reports the failure, so
   * the log cannot name the client: its count and time must do.)
   */
  observe(err: Error): boolean {
    if ((err as NodeJS.ErrnoException).code !== UNKNOWN_CA) return false;
    const now = this.#clock();
    this.#rejections++;
    this.#counter.inc();
    this.#lastAt = now;
    if (now - this.#loggedAt >= LOG_EVERY_MS) {
      this.#log.error({ rejections: this.#rejections, sinceLastLog: this.#unlogged + 1 }, UNTRUSTED_ROOT_MESSAGE);
      this.#loggedAt = now;
      this.#unlogged = 0;
    } else {
      this.#unlogged++;
    }
    return true;
  }

  /** For /readyz: the condition, or undefined if no client refused the root in the last 10 minutes. */
  report(): UntrustedRootReport | undefined {
    if (this.#rejections === 0 || this.#clock() - this.#lastAt > RECENT_MS) return undefined;
    return { rejections: this.#rejections, lastAt: new Date(this.#lastAt).toISOString(), message: UNTRUSTED_ROOT_MESSAGE };
  }
}
