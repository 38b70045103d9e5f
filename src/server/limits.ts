/**
 * The xDS port's memory budget (issue 16 bug 5): what one connection, one
 * stream and one request may make the server hold. Anyone who reaches the
 * port can send requests before proving anything, so every client-supplied
 * list and string that is kept is bounded here, and a request past a limit
 * ends its stream with RESOURCE_EXHAUSTED and a message naming the limit.
 * docs/security.md ("Limits") documents these figures; keep them in step.
 *
 * Sized so the largest legitimate client still fits with room: an Envoy in
 * a 10,000-service mesh subscribes ~10,000 EDS names of ~60 characters
 * (~600 KB), and its delta reconnect names each with its version (~1 MB).
 */
import type { RequestBudget } from '../xds/request-scan.ts';
import { StreamError } from './errors.ts';
import type { Subscription } from './subscription.ts';

export interface XdsLimits {
  /** Bytes of one request message (grpc-js refuses larger with RESOURCE_EXHAUSTED). XDS_RULES 27: room for delta reconnects. */
  maxRequestBytes: number;
  /** Concurrent streams on one HTTP/2 connection (an Envoy opens one ADS stream, or one per type). */
  maxStreamsPerConnection: number;
  /** Entries in any one repeated field of a request (names, initial versions, locators), counted before decoding. */
  maxNamesPerRequest: number;
  /** Names one stream may hold subscribed for one type (delta subscriptions accumulate across requests). */
  maxNamesPerType: number;
  /** Characters of those names together, per type. */
  maxNameCharsPerType: number;
  /** Bytes of the encoded node (the first request's; kept for the stream's life). Envoy's, with its extension list, is ~20 KB. */
  maxNodeBytes: number;
  /** Characters of node.id (Trellis's are `ns/pod`; Kubernetes names keep them under 320). */
  maxNodeIdChars: number;
  /** Characters of a NACK's error_detail.message kept for status views (the rest is cut, marked). */
  maxNackMessageChars: number;
}

export const XDS_LIMITS: Readonly<XdsLimits> = Object.freeze({
  maxRequestBytes: 32 * 1024 * 1024,
  maxStreamsPerConnection: 100,
  maxNamesPerRequest: 100_000,
  maxNamesPerType: 100_000,
  maxNameCharsPerType: 4 * 1024 * 1024,
  maxNodeBytes: 256 * 1024,
  maxNodeIdChars: 1024,
  maxNackMessageChars: 8 * 1024,
});

/** Where the client's message points to (status details travel to whoever hit the limit). */
export const LIMITS_DOC = 'docs/security.md "Limits"';

/** What a request may carry before it is decoded (xds/request-scan.ts). */
export function requestBudgetOf(limits: Readonly<XdsLimits>): RequestBudget {
  return { maxEntries: limits.maxNamesPerRequest, maxNodeBytes: limits.maxNodeBytes };
}

/**
 * Throws StreamError if a stream would hold `next` for one type past the
 * budget. Checked before the stream keeps it: SotW lists are bounded per
 * request already, but delta subscriptions grow request by request.
 */
export function admitSubscription(limits: Readonly<XdsLimits>, type: string, next: Subscription): void {
  const { maxNamesPerType, maxNameCharsPerType } = limits;
  if (next.names.size > maxNamesPerType) {
    throw new StreamError('RESOURCE_EXHAUSTED', 'too_many_names', `subscription over the limit: ${next.names.size} ${type} names; at most ${maxNamesPerType} per type on a stream (see ${LIMITS_DOC})`);
  }
  if (next.chars > maxNameCharsPerType) {
    throw new StreamError('RESOURCE_EXHAUSTED', 'too_many_names', `subscription over the limit: ${next.chars} characters of ${type} names; at most ${maxNameCharsPerType} per type on a stream (see ${LIMITS_DOC})`);
  }
}
