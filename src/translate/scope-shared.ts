/**
 * What every proxy of one scope (signature.ts: one object per model version
 * and scope key) shares: its outbound clusters and endpoint sets, and the
 * facts a walk of its services yields. Computed once per scope and variant,
 * never per proxy (issue 14).
 */
import type { RateLimitService } from '../model/types.ts';
import type { Cluster, ClusterLoadAssignment } from '../xds/envoy-types.ts';
import { outboundCluster } from './cluster.ts';
import { clusterLoadAssignment } from './endpoints.ts';
import type { LimitFeatures } from './http-filters.ts';
import { outboundFeatures } from './limits.ts';
import type { MemoTables } from './memo.ts';
import { outboundClusterName, outboundClusterStatName, upstreamSni, zonalEndpointsName } from './names.ts';
import { proxylessUpstreamTls } from './proxyless-security.ts';
import { httpPorts } from './routes.ts';
import { portDigest, type scopeOf } from './signature.ts';
import type { HttpDestinations } from './http-destinations.ts';
import { tcpPorts, type TcpPort, type transparentTcpDestinations } from './tcp-outbound.ts';

export type Scope = ReturnType<typeof scopeOf>;

export interface ScopeFacts {
  features: LimitFeatures;
  tcpPorts: TcpPort[];
  transparent?: ReturnType<typeof transparentTcpDestinations>;
  /** Transparent mode's HTTP destinations (http-destinations.ts), after the TCP ones. */
  transparentHttp?: HttpDestinations;
}

export interface OutboundBlock {
  clusters: Cluster[];
  endpoints: ClusterLoadAssignment[];
}

/**
 * Who the outbound block is for: callers with (`mtls`) or without an
 * identity, in one zone, sidecars (every port) or gRPC clients (HTTP ports;
 * with their certificate provider, gRFC A29).
 */
export interface BlockVariant {
  mtls: boolean;
  zone: string | undefined;
  sidecar: boolean;
  a29: string | undefined;
}

export class ScopeShared {
  /** Per scope: what every proxy of it reads from all its services, computed once (issue 14). */
  private facts = new WeakMap<Scope, ScopeFacts>();
  /** Per scope, its outbound blocks by variant. */
  private blocks = new WeakMap<Scope, Map<string, OutboundBlock>>();

  constructor(private readonly memo: MemoTables) {}

  /**
   * One scope's outbound clusters and endpoint sets for one variant: the same
   * arrays for every proxy that shares them, so the runtime encodes and
   * indexes them once (issue 14: a policy edit in a 1,000-proxy permissive
   * mesh built 1.2 M memo keys).
   */
  outboundBlock(scope: Scope, v: BlockVariant): OutboundBlock {
    const { mtls, zone, sidecar, a29 } = v;
    let byVariant = this.blocks.get(scope);
    if (!byVariant) this.blocks.set(scope, (byVariant = new Map()));
    const variant = JSON.stringify([mtls, zone ?? '', sidecar, a29 ?? '']);
    let block = byVariant.get(variant);
    if (block) return block;
    block = { clusters: [], endpoints: [] };
    for (const s of scope.services) {
      for (const p of sidecar ? s.ports : httpPorts(s)) {
        const name = outboundClusterName(s.namespace, s.name, p.port);
        // Sidecars with an identity speak mTLS upstream; the same cluster object serves every such caller.
        const tls = mtls ? { peerIdentities: s.identities, sni: upstreamSni(s.namespace, s.name) } : undefined;
        const policy = p.clusterPolicy;
        const edsName = policy?.locality?.mode === 'PreferSameZone' && zone ? zonalEndpointsName(name, zone) : undefined;
        // The whole port is in the key (its endpoints excepted: clusters find them by EDS).
        // Sidecars' stats name the destination (translate/stats.ts); gRPC clients keep none.
        const statName = sidecar ? outboundClusterStatName(s.namespace, s.name, p.port, s.identities) : undefined;
        block.clusters.push(
          // The key names the TLS settings by their parts (`tls` is a new object each time: its JSON would be written per cluster and build).
          this.memo.clusters.get([name, portDigest(p), mtls ? s.identities : undefined, tls?.sni, edsName, statName, a29, a29 ? s.identities : undefined], () => {
            const c = outboundCluster({ name, port: p, policy, tls, edsName, statName, ...(p.plaintext ? { plaintext: p.plaintext } : {}) });
            // gRFC A29: a proxyless client's mTLS names its certificate provider instance (not for endpoints without a sidecar).
            return a29 && p.plaintext !== 'all' ? { ...c, transport_socket: proxylessUpstreamTls(a29, s.identities) } : c;
          }),
        );
        // The endpoint set the cluster names (the publisher shares a mesh-wide one; this is the same content).
        const eds = edsName ?? name;
        block.endpoints.push(this.memo.endpoints.get([eds, p.endpoints], () => clusterLoadAssignment(eds, p.endpoints, edsName ? zone : undefined)));
      }
    }
    byVariant.set(variant, block);
    return block;
  }

  /**
   * The faults and limits a scope's services ask of their callers, and its TCP
   * ports (and their transparent-mode destinations): a walk of every service
   * of the scope, once per scope instead of once per proxy (issue 14: 1,000
   * proxies × 1,000 services were a third of a policy edit's CPU).
   */
  scopeFacts(scope: Scope, rls: RateLimitService | undefined): ScopeFacts {
    let f = this.facts.get(scope);
    if (!f) this.facts.set(scope, (f = { features: outboundFeatures(scope.services, rls), tcpPorts: tcpPorts(scope.services) }));
    return f;
  }
}
