import { describe, expect, it } from 'vitest';
import { outboundClusterStatName, routeStatPrefix, virtualHostName } from './names.ts';
import { GOLDEN_STATS_FILTER, statsConfig, statsListener, TAG_REGEXES } from './stats.ts';

/**
 * Envoy's tag extraction (source/common/stats/tag_extractor_impl.cc), as far
 * as these regexes use it: every extractor matches the original name; the
 * second group is the value (the first when there is one); the first group
 * is cut from the name.
 */
function extract(name: string): { name: string; tags: Record<string, string> } {
  const tags: Record<string, string> = {};
  const cut: Array<[number, number]> = [];
  for (const [tag, regex] of TAG_REGEXES) {
    const m = new RegExp(regex, 'd').exec(name);
    if (!m?.indices?.[1]) continue;
    tags[tag] = m[2] ?? m[1]!;
    cut.push(m.indices[1]);
  }
  const kept = [...name].filter((_, i) => !cut.some(([a, b]) => i >= a && i < b)).join('');
  return { name: kept, tags };
}

describe('issue 12: golden-metric stats tags name source and destination, never the cluster name alone', () => {
  const ids = ['spiffe://cluster.local/ns/demo/sa/ratings'];

  it('an outbound cluster stat: destination service, namespace, port and principal', () => {
    const stat = `cluster.${outboundClusterStatName('demo', 'ratings', 8080, ids)}.upstream_rq_total`;
    expect(extract(stat)).toEqual({
      name: 'cluster.upstream_rq_total',
      tags: { destination_port: '8080', destination_service: 'ratings', destination_namespace: 'demo', destination_principal: 'cluster.local/ns/demo/sa/ratings' },
    });
  });

  it('a service run by two identities lists both principals', () => {
    const stat = `cluster.${outboundClusterStatName('demo', 'web', 80, ['spiffe://td/ns/demo/sa/a', 'spiffe://td/ns/demo/sa/b'])}.upstream_rq_5xx`;
    expect(extract(stat).tags.destination_principal).toBe('td/ns/demo/sa/a,td/ns/demo/sa/b');
  });

  it('a per-route stat: the route name (dots and slashes kept) and its destination', () => {
    const stat = `vhost.${virtualHostName('demo', 'recommendation', 8080)}.route.${routeStatPrefix('split/canary.v2/0')}.upstream_rq_completed`;
    expect(extract(stat)).toEqual({
      name: 'vhost.route.upstream_rq_completed',
      tags: { destination_service: 'recommendation', destination_namespace: 'demo', destination_port: '8080', route: 'split/canary.v2/0' },
    });
  });

  it('other clusters keep Envoy\'s cluster_name tag', () => {
    expect(extract('cluster.inbound:8080.upstream_rq_total')).toEqual({ name: 'cluster.upstream_rq_total', tags: { 'envoy.cluster_name': 'inbound:8080' } });
  });

  it('the source is a fixed tag of the sidecar; without an identity, no principal', () => {
    const tags = statsConfig({ namespace: 'demo', workload: 'frontend', identity: 'spiffe://cluster.local/ns/demo/sa/frontend' }).stats_tags!;
    expect(tags.slice(0, 3)).toEqual([
      { tag_name: 'source_workload', fixed_value: 'frontend' },
      { tag_name: 'source_namespace', fixed_value: 'demo' },
      { tag_name: 'source_principal', fixed_value: 'cluster.local/ns/demo/sa/frontend' },
    ]);
    expect(statsConfig({ namespace: 'demo', workload: 'frontend' }).stats_tags!.some((t) => t.tag_name === 'source_principal')).toBe(false);
  });

  it('the stats listener serves the golden stats of outbound clusters and routes only', () => {
    const filter = new RegExp(GOLDEN_STATS_FILTER);
    const c = `cluster.${outboundClusterStatName('demo', 'ratings', 8080, ids)}`;
    const r = `vhost.${virtualHostName('demo', 'ratings', 8080)}.route.${routeStatPrefix('default')}`;
    for (const s of [`${c}.upstream_rq_total`, `${c}.upstream_rq_5xx`, `${c}.upstream_rq_time`, `${c}.upstream_cx_tx_bytes_total`, `${c}.grpc.failure`, `${r}.upstream_rq_2xx`]) expect(s).toMatch(filter);
    for (const s of [`${c}.upstream_rq_503`, `${c}.membership_healthy`, 'cluster.inbound:8080.upstream_rq_total', 'http.outbound.downstream_rq_total', 'server.live']) expect(s).not.toMatch(filter);
    const route = statsListener({ address: '0.0.0.0', port: 15090 }).filter_chains![0]!.filters![0]!.typed_config as unknown as { route_config: { virtual_hosts: Array<{ routes: Array<{ route: { prefix_rewrite: string } }> }> } };
    expect(route.route_config.virtual_hosts[0]!.routes[0]!.route.prefix_rewrite).toBe(`/stats/prometheus?usedonly&filter=${encodeURIComponent(GOLDEN_STATS_FILTER)}`);
    // And the admin's /ready, unchanged (a readiness probe cannot reach the loopback admin).
    expect(route.route_config.virtual_hosts[0]!.routes.map((x) => (x as unknown as { match: { path: string } }).match.path)).toEqual(['/stats/prometheus', '/ready']);
  });
});
