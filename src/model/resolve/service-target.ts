/**
 * An intent's `targetRef` to a Service of its namespace, and optionally one of
 * its ports (by number or name), resolved once for every kind that has one
 * (TrafficPolicy, RequestAuthentication): a missing service or port is an
 * error at `spec.targetRef.name` / `.port` naming what exists, and the intent
 * is skipped.
 */
import { didYouMean } from '../suggest.ts';
import type { ServicePort } from '../types.ts';
import { objectKey, type Book, type Entry } from './book.ts';
import type { ServiceDraft } from './services.ts';

export interface ServiceTarget {
  svc: ServiceDraft;
  /** The port named, if one is. */
  port?: ServicePort;
}

export function resolveServiceTarget(
  e: Entry<{ service: string; port?: number | string }>,
  services: ReadonlyMap<string, ServiceDraft>,
  book: Book,
): ServiceTarget | undefined {
  const svc = services.get(objectKey(e.namespace, e.spec.service));
  if (!svc) {
    const names = [...services.values()].filter((s) => s.namespace === e.namespace).map((s) => s.name);
    book.error(e, 'spec.targetRef.name', 'RefNotFound', `service "${e.spec.service}" does not exist in namespace "${e.namespace}" (or is invalid).${didYouMean(e.spec.service, names)} Expected a service of this namespace`);
    return undefined;
  }
  if (e.spec.port === undefined) return { svc };
  const port = svc.ports.find((sp) => sp.port === e.spec.port || sp.name === e.spec.port);
  if (!port) {
    const ports = svc.ports.map((sp) => (sp.name ? `${sp.port} (${sp.name})` : String(sp.port)));
    book.error(e, 'spec.targetRef.port', 'RefNotFound', `service "${svc.name}" has no TCP port ${JSON.stringify(e.spec.port)}; expected one of: ${ports.join(', ')}`);
    return undefined;
  }
  return { svc, port };
}
