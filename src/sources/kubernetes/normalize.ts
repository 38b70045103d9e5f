/**
 * An object as the API server stores it -> the source-neutral SourceObject
 * the model reads. Pure.
 *
 * What is removed, and why:
 * - list items carry no apiVersion/kind: they are set from the resource;
 * - metadata.managedFields and metadata.resourceVersion: bookkeeping that
 *   changes on every write (a status write included), never input to the
 *   mesh; the resourceVersion is kept in the origin;
 * - status of intent kinds: Trellis writes it, so reading it back would make
 *   Trellis's own output part of its input (and SMI kinds have no status in
 *   the schema the model checks); likewise the status of every kind a CRD
 *   defines (a Gateway's status is written by its controller, not input).
 */
import type { SourceObject } from '../../model/object.ts';
import type { KubeResource } from './resources.ts';

type Json = Record<string, unknown>;

export function toSourceObject(resource: KubeResource, obj: Json): SourceObject {
  const meta = (obj.metadata ?? {}) as Json;
  const { managedFields: _mf, resourceVersion, ...keptMeta } = meta;
  const { status, ...rest } = obj;
  const raw: Json = {
    ...rest,
    apiVersion: resource.apiVersion,
    kind: resource.kind,
    metadata: keptMeta,
    ...(status !== undefined && !resource.intent && !resource.custom ? { status } : {}),
  };
  const generation = typeof meta.generation === 'number' ? meta.generation : undefined;
  return {
    apiVersion: resource.apiVersion,
    kind: resource.kind,
    metadata: {
      name: String(meta.name ?? ''),
      ...(typeof meta.namespace === 'string' ? { namespace: meta.namespace } : {}),
      labels: stringMap(meta.labels),
      annotations: stringMap(meta.annotations),
      ...(generation !== undefined ? { generation } : {}),
      ...(typeof meta.creationTimestamp === 'string' ? { creationTimestamp: meta.creationTimestamp } : {}),
    },
    raw,
    origin: {
      source: 'kubernetes',
      ...(typeof meta.uid === 'string' ? { uid: meta.uid } : {}),
      ...(typeof resourceVersion === 'string' ? { resourceVersion } : {}),
    },
  };
}

function stringMap(v: unknown): Record<string, string> {
  if (!v || typeof v !== 'object') return {};
  return Object.fromEntries(Object.entries(v as Json).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** Content that matters to the mesh: equal keys mean an event changed nothing the model reads. */
export function contentKey(o: SourceObject): string {
  return JSON.stringify(o.raw);
}
