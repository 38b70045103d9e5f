import { describe, expect, it } from 'vitest';
import { encodeResource } from '../cache/resource.ts';
import type { EffectivePolicy, ServicePort } from '../model/types.ts';
import { TypeUrl } from '../xds/type-urls.ts';
import { durationOf, inboundCluster, outboundCluster, passthroughCluster, type OutboundClusterOptions } from './cluster.ts';
import { WORKLOAD_CERTIFICATE_SECRET } from './names.ts';
import { deepFreeze, unknownEnums } from './testing.ts';

const HTTP: ServicePort = { name: 'http', port: 8080, targetPort: 8080, protocol: 'http', endpoints: [] };
const GRPC: ServicePort = { name: 'grpc', port: 9090, targetPort: 9090, appProtocol: 'grpc', protocol: 'grpc', endpoints: [] };
const H2: ServicePort = { ...HTTP, protocol: 'http2' };

function policy(p: Partial<EffectivePolicy>): EffectivePolicy {
  return { from: ['demo/web'], routes: [], ...p };
}

const RETRIES = { attempts: 2, retryOn: ['5xx'], retriableStatusCodes: [], methods: ['GET'] };
const H2_OPTIONS = {
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
    '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    explicit_http_config: { http2_protocol_options: {} },
  },
};

describe('outboundCluster', () => {
  const cases: { name: string; options: OutboundClusterOptions; want: Record<string, unknown>; absent?: string[] }[] = [
    {
      name: 'no policy: EDS over ADS, round robin, 1s connect timeout, nothing else',
      options: { name: 'web.demo:8080', port: HTTP },
      want: {
        name: 'web.demo:8080',
        type: 'EDS',
        eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: 'web.demo:8080' },
        connect_timeout: '1s',
        lb_policy: 'ROUND_ROBIN',
      },
      absent: ['circuit_breakers', 'outlier_detection', 'common_lb_config', 'typed_extension_protocol_options', 'transport_socket'],
    },
    {
      name: 'least request with a choice count',
      options: { name: 'c', port: HTTP, policy: policy({ loadBalancer: { policy: 'LeastRequest', choiceCount: 3 } }) },
      want: { lb_policy: 'LEAST_REQUEST', least_request_lb_config: { choice_count: 3 } },
    },
    {
      name: 'least request without a choice count leaves Envoy its default',
      options: { name: 'c', port: HTTP, policy: policy({ loadBalancer: { policy: 'LeastRequest' } }) },
      want: { lb_policy: 'LEAST_REQUEST' },
      absent: ['least_request_lb_config'],
    },
    {
      name: 'ring hash with the default minimum ring size',
      options: { name: 'c', port: HTTP, policy: policy({ loadBalancer: { policy: 'RingHash', hashOn: { header: 'x-user' } } }) },
      want: { lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: 1024 } },
    },
    {
      name: 'ring hash with a minimum ring size',
      options: { name: 'c', port: HTTP, policy: policy({ loadBalancer: { policy: 'RingHash', minimumRingSize: 64, hashOn: { header: 'x-user' } } }) },
      want: { lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: 64 } },
    },
    {
      name: 'explicit round robin',
      options: { name: 'c', port: HTTP, policy: policy({ loadBalancer: { policy: 'RoundRobin' } }) },
      want: { lb_policy: 'ROUND_ROBIN' },
    },
    {
      name: 'circuit breaker: every threshold that is set, at default priority',
      options: { name: 'c', port: HTTP, policy: policy({ circuitBreaker: { maxConnections: 10, maxPendingRequests: 5, maxRequests: 100, maxRetries: 3 } }) },
      want: { circuit_breakers: { thresholds: [{ priority: 'DEFAULT', max_connections: 10, max_pending_requests: 5, max_requests: 100, max_retries: 3 }] } },
    },
    {
      name: 'circuit breaker: unset thresholds are left to Envoy',
      options: { name: 'c', port: HTTP, policy: policy({ circuitBreaker: { maxRequests: 7 } }) },
      want: { circuit_breakers: { thresholds: [{ priority: 'DEFAULT', max_requests: 7 }] } },
    },
    {
      name: 'retry budget alone makes a threshold',
      options: { name: 'c', port: HTTP, policy: policy({ retries: { ...RETRIES, budget: { percent: 20, minConcurrency: 3 } } }) },
      want: { circuit_breakers: { thresholds: [{ priority: 'DEFAULT', retry_budget: { budget_percent: { value: 20 }, min_retry_concurrency: 3 } }] } },
    },
    {
      name: 'retry budget beside circuit breaker thresholds',
      options: { name: 'c', port: HTTP, policy: policy({ circuitBreaker: { maxRetries: 4 }, retries: { ...RETRIES, budget: { percent: 12.5, minConcurrency: 1 } } }) },
      want: { circuit_breakers: { thresholds: [{ priority: 'DEFAULT', max_retries: 4, retry_budget: { budget_percent: { value: 12.5 }, min_retry_concurrency: 1 } }] } },
    },
    {
      name: 'retries without a budget add no circuit breaker',
      options: { name: 'c', port: HTTP, policy: policy({ retries: RETRIES }) },
      want: {},
      absent: ['circuit_breakers'],
    },
    {
      name: 'outlier detection on consecutive 5xx',
      options: { name: 'c', port: HTTP, policy: policy({ outlierDetection: { consecutive5xx: 5, intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 10 } }) },
      want: { outlier_detection: { consecutive_5xx: 5, interval: '10s', base_ejection_time: '30s', max_ejection_percent: 10 } },
    },
    {
      name: 'outlier detection on gateway errors is enforced (Envoy enforces it at 0% by default)',
      options: { name: 'c', port: HTTP, policy: policy({ outlierDetection: { consecutiveGatewayErrors: 3, intervalMs: 1500, baseEjectionTimeMs: 250, maxEjectionPercent: 50 } }) },
      want: {
        outlier_detection: { consecutive_gateway_failure: 3, enforcing_consecutive_gateway_failure: 100, interval: '1.5s', base_ejection_time: '0.25s', max_ejection_percent: 50 },
      },
    },
    {
      name: 'grpc port: upstream HTTP/2',
      options: { name: 'c', port: GRPC },
      want: { typed_extension_protocol_options: H2_OPTIONS },
    },
    {
      name: 'http2 port: upstream HTTP/2',
      options: { name: 'c', port: H2 },
      want: { typed_extension_protocol_options: H2_OPTIONS },
    },
    {
      // PreferSameZone lives in the endpoints (priorities per zone), not in Envoy's zone-aware routing,
      // which needs a local cluster in the bootstrap and which gRPC clients ignore.
      name: 'PreferSameZone: endpoints from the EDS name given (the caller zone’s variant), no zone-aware config',
      options: { name: 'c', port: HTTP, policy: policy({ locality: { mode: 'PreferSameZone' } }), edsName: 'c@zone-a' },
      want: { name: 'c', eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: 'c@zone-a' } },
      absent: ['common_lb_config'],
    },
    {
      name: 'PreferSameZone without an EDS name (caller zone unknown): the cluster’s own endpoints',
      options: { name: 'c', port: HTTP, policy: policy({ locality: { mode: 'PreferSameZone' } }) },
      want: { eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: 'c' } },
      absent: ['common_lb_config'],
    },
    {
      name: 'locality None: no zone-aware config',
      options: { name: 'c', port: HTTP, policy: policy({ locality: { mode: 'None' } }) },
      want: { eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: 'c' } },
      absent: ['common_lb_config'],
    },
    {
      name: 'custom connect timeout',
      options: { name: 'c', port: HTTP, connectTimeoutMs: 250 },
      want: { connect_timeout: '0.25s' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = outboundCluster(deepFreeze(c.options));
      expect(got).toMatchObject(c.want);
      for (const f of c.absent ?? []) expect(got).not.toHaveProperty(f);
      expect(() => encodeResource(TypeUrl.Cluster, got)).not.toThrow();
      expect(unknownEnums(TypeUrl.Cluster, got)).toEqual([]);
    });
  }

  it('mTLS: presents the workload certificate (one name for every identity) and accepts only the destination identities (URI SANs) from the trust bundle', () => {
    const peers = ['spiffe://cluster.local/ns/demo/sa/web', 'spiffe://cluster.local/ns/demo/sa/web-canary'];
    const got = outboundCluster(deepFreeze({ name: 'web.demo:8080', port: HTTP, tls: { peerIdentities: peers, sni: 'web.demo.svc.cluster.local' } }));
    const ts = got.transport_socket as { name: string; typed_config: Record<string, any> };
    expect(ts.name).toBe('envoy.transport_sockets.tls');
    expect(ts.typed_config['@type']).toBe('type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext');
    expect(ts.typed_config.sni).toBe('web.demo.svc.cluster.local');
    const ctx = ts.typed_config.common_tls_context;
    expect(ctx.tls_certificate_sds_secret_configs).toEqual([{ name: WORKLOAD_CERTIFICATE_SECRET, sds_config: { ads: {}, resource_api_version: 'V3' } }]);
    expect(WORKLOAD_CERTIFICATE_SECRET).toBe('workload-certificate'); // a documented name (docs/names.md)
    expect(ctx.combined_validation_context.default_validation_context.match_typed_subject_alt_names).toEqual(peers.map((id) => ({ san_type: 'URI', matcher: { exact: id } })));
    expect(ctx.combined_validation_context.validation_context_sds_secret_config.name).toBe('trellis-trust-bundle');
    expect(() => encodeResource(TypeUrl.Cluster, got)).not.toThrow();
    expect(unknownEnums(TypeUrl.Cluster, got)).toEqual([]);
  });

  it('every section at once still encodes', () => {
    const got = outboundCluster(
      deepFreeze({
        name: 'web.demo:9090',
        port: GRPC,
        policy: policy({
          circuitBreaker: { maxConnections: 1 },
          retries: { ...RETRIES, budget: { percent: 20, minConcurrency: 3 } },
          outlierDetection: { consecutive5xx: 1, consecutiveGatewayErrors: 1, intervalMs: 1000, baseEjectionTimeMs: 1000, maxEjectionPercent: 100 },
          loadBalancer: { policy: 'RingHash', hashOn: { cookie: { name: 's' } } },
          locality: { mode: 'PreferSameZone' },
        }),
        tls: { peerIdentities: ['spiffe://td/ns/a/sa/c'], sni: 'web.demo.svc.cluster.local' },
        edsName: 'web.demo:9090@z1',
      }),
    );
    expect(() => encodeResource(TypeUrl.Cluster, got)).not.toThrow();
    expect(unknownEnums(TypeUrl.Cluster, got)).toEqual([]);
  });
});

describe('inbound and passthrough clusters', () => {
  const cases = [
    {
      name: 'inbound HTTP/1: a static endpoint at the application',
      got: () => inboundCluster({ name: 'inbound:8080', address: '127.0.0.1', port: 18080, http2: false }),
      want: {
        name: 'inbound:8080',
        type: 'STATIC',
        connect_timeout: '1s',
        load_assignment: { cluster_name: 'inbound:8080', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 18080 } } } }] }] },
      },
    },
    {
      name: 'inbound gRPC: HTTP/2 to the application',
      got: () => inboundCluster({ name: 'inbound:9090', address: '10.0.0.1', port: 9090, http2: true }),
      want: { typed_extension_protocol_options: H2_OPTIONS },
    },
    {
      name: 'passthrough: original destination',
      got: () => passthroughCluster('passthrough'),
      want: { name: 'passthrough', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = c.got();
      expect(got).toMatchObject(c.want);
      expect(() => encodeResource(TypeUrl.Cluster, got)).not.toThrow();
      expect(unknownEnums(TypeUrl.Cluster, got)).toEqual([]);
    });
  }
});

describe('durationOf', () => {
  const cases: [number, string][] = [
    [1000, '1s'],
    [1500, '1.5s'],
    [250, '0.25s'],
    [1, '0.001s'],
    [0, '0s'],
    [3_600_000, '3600s'],
  ];
  for (const [ms, want] of cases) it(`${ms}ms is ${want}`, () => expect(durationOf(ms)).toBe(want));
});
