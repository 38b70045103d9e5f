/**
 * A file of raw Envoy resources, served as they are: the way to run the xDS
 * server before (or beside) the mesh sources, and the fixture format of the
 * protocol tests and benchmarks.
 *
 *   clusters:  [ <envoy.config.cluster.v3.Cluster>, ... ]
 *   endpoints: [ <envoy.config.endpoint.v3.ClusterLoadAssignment>, ... ]
 *   listeners: [ <envoy.config.listener.v3.Listener>, ... ]
 *   routes:    [ <envoy.config.route.v3.RouteConfiguration>, ... ]
 *   secrets:   [ <envoy.extensions.transport_sockets.tls.v3.Secret>, ... ]
 *
 * Field names and values as in Envoy's YAML (proto3 JSON, snake_case).
 * A file that fails to parse or encode is reported with its line and the
 * previous good resources stay served.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isSeq, type Node as YamlNode } from 'yaml';
import { encodeResource, type VersionedResource } from '../cache/resource.ts';
import { errorMessage } from '../errors.ts';
import { Snapshot, TypeSet } from '../cache/snapshot.ts';
import { TypeUrl, type ResourceTypeUrl } from '../xds/type-urls.ts';

const SECTIONS: Record<string, ResourceTypeUrl> = {
  clusters: TypeUrl.Cluster,
  endpoints: TypeUrl.Endpoint,
  listeners: TypeUrl.Listener,
  routes: TypeUrl.Route,
  secrets: TypeUrl.Secret,
};

export interface FileProblem {
  file: string;
  line: number;
  message: string;
}

export type LoadResult = { ok: true; snapshot: Snapshot } | { ok: false; problems: FileProblem[] };

function lineOf(node: YamlNode | null | undefined, lc: LineCounter): number {
  const start = node?.range?.[0];
  return start === undefined ? 1 : lc.linePos(start).line;
}

export function loadEnvoyResources(file: string, text: string = readFileSync(file, 'utf8'), now = Date.now()): LoadResult {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length > 0) {
    return { ok: false, problems: doc.errors.map((e) => ({ file, line: e.linePos?.[0]?.line ?? 1, message: e.message.split('\n')[0]! })) };
  }
  const problems: FileProblem[] = [];
  const sets: Partial<Record<ResourceTypeUrl, TypeSet>> = {};
  const root = doc.contents;
  if (root !== null && !isMap(root)) {
    return { ok: false, problems: [{ file, line: lineOf(root as YamlNode, lc), message: `expected a map with keys ${Object.keys(SECTIONS).join(', ')}` }] };
  }
  for (const pair of root?.items ?? []) {
    const key = String((pair.key as { value?: unknown })?.value ?? pair.key);
    const typeUrl = SECTIONS[key];
    if (!typeUrl) {
      problems.push({ file, line: lineOf(pair.key as YamlNode, lc), message: `unknown section "${key}"; expected one of ${Object.keys(SECTIONS).join(', ')}` });
      continue;
    }
    const seq = pair.value;
    if (!isSeq(seq)) {
      problems.push({ file, line: lineOf(seq as YamlNode, lc), message: `"${key}" must be a list of resources` });
      continue;
    }
    const resources: VersionedResource[] = [];
    const seen = new Set<string>();
    seq.items.forEach((item, i) => {
      const obj = (item as YamlNode & { toJSON(): unknown }).toJSON() as Record<string, unknown>;
      const line = lineOf(item as YamlNode, lc);
      try {
        const owner = typeof obj.__owner === 'string' ? obj.__owner : undefined;
        const { __owner: _o, ...resource } = obj;
        const r = encodeResource(typeUrl, resource, { owner });
        if (seen.has(r.name)) {
          problems.push({ file, line, message: `${key}[${i}] "${r.name}": duplicate name; each resource name may appear once per type` });
          return;
        }
        seen.add(r.name);
        resources.push(r);
      } catch (e) {
        problems.push({ file, line, message: `${key}[${i}]: ${errorMessage(e)}` });
      }
    });
    sets[typeUrl] = TypeSet.of(typeUrl, resources, now);
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, snapshot: new Snapshot(sets) };
}
