/**
 * Runs the pure translator (translate/) for every connected proxy, encodes
 * the results and hands them to the cache: the effects live here, in the
 * runtime, so translate/ stays pure.
 *
 * Endpoints take a short cut (DESIGN: "endpoint churn may go straight to the
 * endpoint cache"): a ClusterLoadAssignment does not depend on who asks, so
 * there is one mesh-wide endpoint set, shared by every proxy's snapshot; a
 * proxy receives the ones it subscribes to, which are its clusters'. When a
 * model change touches only endpoints, no listener, route or cluster is
 * rebuilt: the shared set is updated and streams get the changed names.
 */
import type { VersionedResource } from '../cache/resource.ts';
import { Interner } from '../interner.ts';
import { Snapshot, TypeSet } from '../cache/snapshot.ts';
import type { SnapshotCache } from '../cache/snapshot-cache.ts';
import type { Logger } from '../log.ts';
import type { MeshModel } from '../model/types.ts';
import { TypeUrl, type ResourceTypeUrl } from '../xds/type-urls.ts';
import type { NodeInfo } from '../xds/wire.ts';
import { Memo } from '../translate/memo.ts';
import { proxyContext } from '../translate/proxy.ts';
import { Translator } from '../translate/translate.ts';
import { proxySignature } from '../translate/signature.ts';
import { endpointZones, meshEndpoints, proxyResources, type EncodedProxyResources } from './proxy-resources.ts';

/** Where SDS secrets come from (the CA); resources are already encoded, owned by their identity. */
export interface SecretSource {
  secretsFor(identities: readonly string[]): VersionedResource[];
}

const typeSets = new Interner<TypeSet>();

/** Equal lists of resources give the same TypeSet object, so proxies with equal config share it. */
function internedSet(typeUrl: ResourceTypeUrl, resources: readonly VersionedResource[], now: number): TypeSet {
  let key = typeUrl;
  for (const r of resources) key += `\n${r.name}@${r.version}`;
  return typeSets.intern(key, () => TypeSet.of(typeUrl, resources, now));
}

/** One base TypeSet per shared cluster array (proxy-resources.ts): weak, it lives while some proxy's set does. */
const clusterBases = new WeakMap<readonly VersionedResource[], TypeSet>();

/**
 * A proxy's clusters as its scope's shared base plus its own few (issue 14):
 * building, hashing and comparing the shared part happens once per base, not
 * once per proxy. Interned like other sets: proxies with equal own clusters
 * over one base share the set.
 */
function layeredClusterSet(out: EncodedProxyResources, now: number): TypeSet {
  if (out.sharedClusters.length === 0) return internedSet(TypeUrl.Cluster, out.clusters, now);
  let base = clusterBases.get(out.sharedClusters);
  if (!base) clusterBases.set(out.sharedClusters, (base = internedSet(TypeUrl.Cluster, out.sharedClusters, now)));
  const own = out.clusters.slice(out.sharedClusters.length);
  let key = `layered\n${base.version}`;
  for (const r of own) key += `\n${r.name}@${r.version}`;
  return typeSets.intern(key, () => TypeSet.layered(base, own, now));
}

export interface PublishStats {
  proxies: number;
  /** proxies translated again (their inputs changed) */
  translated: number;
  ms: number;
}

export class MeshPublisher {
  private model?: MeshModel;
  /** Per node key: the signature its current snapshot was translated for. */
  private readonly signatures = new Map<string, string>();
  private endpoints: TypeSet = TypeSet.of(TypeUrl.Endpoint, []);
  private readonly nodes = new Map<string, NodeInfo>();
  /** Zones the current endpoint set has PreferSameZone variants for. */
  private zones = new Set<string>();
  private readonly translator = new Translator();
  private readonly claMemo = new Memo<VersionedResource>();

  constructor(
    private readonly cache: SnapshotCache,
    private readonly log: Logger,
    private secrets?: SecretSource,
  ) {
    cache.onDemand({
      onDemand: (key, node) => {
        this.nodes.set(key, node);
        if (!this.model) return;
        // A caller in a zone no endpoint set was made for yet needs its zonal variants first.
        const zone = node.locality?.zone;
        if (zone && !this.zones.has(zone)) this.publish(this.model);
        else this.publishNode(key, node, Date.now());
      },
      onIdle: (key) => {
        this.nodes.delete(key);
        this.signatures.delete(key);
        cache.delete(key);
      },
    });
  }

  setSecretSource(source: SecretSource): void {
    this.secrets = source;
    this.prepareSecrets();
    this.republish();
  }

  /**
   * Translate and encode every workload's sidecar config once, before the
   * port opens: after a restart all sidecars reconnect at once, and each then
   * finds its resources already built (memo) and encoded (interned), so the
   * reconnect storm costs lookups. Nothing is published; a sidecar whose
   * bootstrap differs from the defaults simply misses the warm entries.
   */
  prewarm(): number {
    const model = this.model;
    if (!model) return 0;
    let n = 0;
    for (const w of model.workloads.values()) {
      if (!w.ip) continue;
      proxyResources(this.translator, model, proxyContext({ id: w.key, user_agent_name: 'envoy' }, model));
      n++;
    }
    return n;
  }

  /**
   * Issue (and encode) every workload's certificate ahead of its proxy: after
   * a restart a thousand sidecars reconnect at once, and signing then would
   * sit on their path. Cheap when nothing is due: held certificates are reused.
   */
  private prepareSecrets(): void {
    if (!this.secrets || !this.model) return;
    const identities = new Set<string>();
    for (const w of this.model.workloads.values()) identities.add(w.identity);
    this.secrets.secretsFor([...identities]);
  }

  /** A new model version. */
  publish(model: MeshModel): PublishStats {
    const t0 = performance.now();
    const now = Date.now();
    this.model = model;
    this.prepareSecrets();
    const endpoints = this.buildEndpoints(model, now);
    const endpointsChanged = endpoints !== this.endpoints;
    this.endpoints = endpoints;
    // Only proxies whose inputs changed are translated again; the others at
    // most get the new endpoint set.
    let translated = 0;
    for (const [key, node] of this.nodes) {
      const proxy = proxyContext(node, model);
      const signature = proxySignature(model, proxy);
      if (this.signatures.get(key) === signature) {
        if (endpointsChanged) this.cache.setType(key, endpoints, { endpointsShared: true });
        continue;
      }
      this.publishNode(key, node, now, proxy, signature);
      translated++;
    }
    if (translated > 0) this.translator.sweep();
    return { proxies: this.nodes.size, translated, ms: performance.now() - t0 };
  }

  /** Recompute every proxy (e.g. certificates rotated). */
  republish(): void {
    if (!this.model) return;
    const now = Date.now();
    for (const [key, node] of this.nodes) this.publishNode(key, node, now);
  }

  private buildEndpoints(model: MeshModel, now: number): TypeSet {
    this.zones = endpointZones(model, this.nodes.values());
    return internedSet(TypeUrl.Endpoint, meshEndpoints(model, this.zones, this.claMemo), now);
  }

  private publishNode(key: string, node: NodeInfo, now: number, proxy = proxyContext(node, this.model!), signature = proxySignature(this.model!, proxy)): void {
    const model = this.model!;
    this.signatures.set(key, signature);
    const out = proxyResources(this.translator, model, proxy);
    const snapshot = new Snapshot({
      [TypeUrl.Cluster]: layeredClusterSet(out, now),
      [TypeUrl.Endpoint]: this.endpoints,
      [TypeUrl.Listener]: internedSet(TypeUrl.Listener, out.listeners, now),
      [TypeUrl.Route]: internedSet(TypeUrl.Route, out.routes, now),
      [TypeUrl.Secret]: internedSet(TypeUrl.Secret, [...(this.secrets?.secretsFor(out.identities) ?? []), ...out.secrets], now),
    });
    const result = this.cache.set(key, snapshot, { endpointsShared: true });
    if (!result.ok) {
      // Our own builders produced an inconsistent snapshot: a bug, but never
      // worth taking the proxy's last good config away.
      this.log.error({ node: node.id, problems: result.problems }, 'inconsistent snapshot not served (bug); keeping the last good one');
    }
  }
}
