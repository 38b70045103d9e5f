/**
 * `trellis diff`'s answer: for each proxy connected to a running Trellis,
 * what a new model would change in what it holds. The prediction is the
 * publisher's own (proxy-resources.ts) for the node the proxy announced;
 * versions are content hashes, so an equal version is equal content and only
 * a different one is decoded and compared field by field.
 *
 * Secrets are neither predicted nor compared: they come from the CA, which
 * the CLI does not have (and their keys are never shown).
 */
import type { VersionedResource } from '../cache/resource.ts';
import type { HeldResourceView, ProxyConfigView, ProxySummary } from '../admin/proxies.ts';
import type { MeshModel } from '../model/types.ts';
import { envoyJson } from '../xds/envoy-json.ts';
import { jsonDiff, type FieldChange } from '../xds/json-diff.ts';
import { SHORT_NAMES, TypeUrl, type ResourceTypeUrl } from '../xds/type-urls.ts';
import type { NodeLike } from '../translate/proxy.ts';
import { Translator } from '../translate/translate.ts';
import { endpointZones, meshEndpoints } from './proxy-resources.ts';
import { predictedResources } from './served-versions.ts';

/** The types diff compares, in push order; SDS is left out (above). */
const COMPARED: readonly ResourceTypeUrl[] = [TypeUrl.Cluster, TypeUrl.Endpoint, TypeUrl.Listener, TypeUrl.Route];

/** At most this many field lines per modified resource; the JSON output says how many there were. */
const FIELD_LIMIT = 20;

export interface ResourceChange {
  /** cds, eds, lds, rds */
  type: string;
  name: string;
  change: 'added' | 'removed' | 'modified';
  /** the version the proxy holds (removed, modified) */
  from?: string;
  /** the version it would get (added, modified) */
  to?: string;
  /** modified: where the content differs (at most FIELD_LIMIT) */
  fields?: FieldChange[];
  /** modified: how many fields differ in all */
  fieldCount?: number;
}

export interface ProxyDiff {
  node: string;
  changes: ResourceChange[];
}

/** The node a proxy announced, as the admin API lists it: what proxyContext reads. */
export function nodeOf(p: ProxySummary): NodeLike & { locality?: { zone?: string } } {
  return { id: p.node, user_agent_name: p.userAgentName ?? undefined, locality: p.locality ?? undefined, metadata: p.metadata };
}

/** proto JSON as it crosses HTTP (what the admin API's `resource` is), without its '@type'. */
function decoded(r: VersionedResource): unknown {
  return JSON.parse(JSON.stringify(envoyJson(r.typeUrl, r.value)));
}

function withoutType(resource: Record<string, unknown>): Record<string, unknown> {
  const { '@type': _type, ...rest } = resource;
  return rest;
}

function compareType(type: string, held: readonly HeldResourceView[], next: readonly VersionedResource[]): ResourceChange[] {
  const before = new Map(held.map((r) => [r.name, r]));
  const after = new Map(next.map((r) => [r.name, r]));
  const out: ResourceChange[] = [];
  for (const name of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const b = before.get(name);
    const a = after.get(name);
    if (!b) out.push({ type, name, change: 'added', to: a!.version });
    else if (!a) out.push({ type, name, change: 'removed', from: b.version });
    else if (a.version !== b.version) {
      const all = jsonDiff(withoutType(b.resource), decoded(a));
      out.push({ type, name, change: 'modified', from: b.version, to: a.version, fields: all.slice(0, FIELD_LIMIT), fieldCount: all.length });
    }
  }
  return out;
}

/**
 * What `model` would change for each proxy, sorted by node id. `held` gives
 * each proxy's config (the admin API's); a type is compared only if the proxy
 * asked for it. Endpoint sets are compared for the names the proxy's new
 * clusters refer to: the ones a proxy subscribes to.
 */
export function diffProxies(model: MeshModel, proxies: readonly ProxySummary[], held: ReadonlyMap<string, ProxyConfigView>): ProxyDiff[] {
  const translator = new Translator();
  const nodes = proxies.map(nodeOf);
  const endpoints = meshEndpoints(model, endpointZones(model, nodes));
  const out: ProxyDiff[] = [];
  for (const node of nodes) {
    const predicted = predictedResources(translator, model, node, endpoints);
    const next: Record<string, VersionedResource[]> = {
      [TypeUrl.Cluster]: predicted.cds,
      [TypeUrl.Endpoint]: predicted.eds,
      [TypeUrl.Listener]: predicted.lds,
      [TypeUrl.Route]: predicted.rds,
    };
    const summary = proxies.find((p) => p.node === node.id)!;
    const config = held.get(node.id)?.types ?? {};
    const changes = COMPARED.filter((t) => summary.sync[SHORT_NAMES[t]]).flatMap((t) => compareType(SHORT_NAMES[t], config[SHORT_NAMES[t]] ?? [], next[t]!));
    out.push({ node: node.id, changes });
  }
  return out.sort((a, b) => a.node.localeCompare(b.node));
}
