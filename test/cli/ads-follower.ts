/**
 * An ADS client that subscribes the way Envoy does, for tests that need what
 * a proxy really holds: clusters and listeners by wildcard, then the endpoint
 * sets its clusters name and the route configurations its listeners name,
 * following every update and ACKing everything. One SotW stream, the node
 * sent once, as a sidecar bootstrapped by `trellis bootstrap` sends it.
 */
import type * as grpc from '@grpc/grpc-js';
import { referencesOf } from '../../src/cache/references.ts';
import { TypeUrl, type ResourceTypeUrl } from '../../src/xds/type-urls.ts';
import type { NodeInfo } from '../../src/xds/wire.ts';
import type { SotwResponseView, SotwStream, XdsTestClient } from '../support/ads-client.ts';

const { Cluster: CDS, Endpoint: EDS, Listener: LDS, Route: RDS } = TypeUrl;

export class AdsFollower {
  private readonly stream: SotwStream;
  /** per type: the names subscribed ([] = wildcard), the last version and nonce */
  private readonly state = new Map<string, { names: string[]; version: string; nonce: string }>();
  private closed = false;

  /** `metadata`: e.g. the identity token, for a follower whose identity is proven */
  constructor(client: XdsTestClient, node: NodeInfo, metadata?: grpc.Metadata) {
    this.stream = client.sotw(metadata);
    this.stream.send({ node, type_url: CDS, resource_names: [] });
    this.stream.send({ type_url: LDS, resource_names: [] });
    this.state.set(CDS, { names: [], version: '', nonce: '' });
    this.state.set(LDS, { names: [], version: '', nonce: '' });
    void this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.closed) {
      let res: SotwResponseView;
      try {
        res = await this.stream.next(600_000);
      } catch {
        return; // stream ended (closed by the test)
      }
      const st = this.state.get(res.type_url)!;
      st.version = res.version_info;
      st.nonce = res.nonce;
      this.stream.ack(res, st.names);
      if (res.type_url === CDS) this.follow(EDS, res, (refs) => refs.endpoints);
      if (res.type_url === LDS) this.follow(RDS, res, (refs) => refs.routes);
    }
  }

  /** Subscribe `type` to the names `res`'s resources refer to, when they changed. */
  private follow(type: ResourceTypeUrl, res: SotwResponseView, pick: (r: ReturnType<typeof referencesOf>) => string[]): void {
    const names = [...new Set(res.resources.flatMap((r, i) => pick(referencesOf(res.type_url as ResourceTypeUrl, res.names[i]!, r.value as Record<string, unknown>))))].sort();
    const st = this.state.get(type);
    if (st && st.names.join() === names.join()) return;
    if (!st && names.length === 0) return;
    const next = { names, version: st?.version ?? '', nonce: st?.nonce ?? '' };
    this.state.set(type, next);
    this.stream.send({ type_url: type, resource_names: names, version_info: next.version, response_nonce: next.nonce });
  }

  close(): void {
    this.closed = true;
    this.stream.close();
  }
}
