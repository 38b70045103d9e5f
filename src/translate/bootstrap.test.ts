import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { encodeResource } from '../cache/resource.ts';
import { TOKEN_METADATA_KEY } from '../identity/verifier.ts';
import { TypeUrl } from '../xds/type-urls.ts';
import { envoyBootstrap, type BootstrapOptions } from './bootstrap.ts';
import { XDS_CLUSTER, XDS_SERVER_NAME } from './names.ts';
import { ADMIN_PORT, NODE_METADATA, OUTBOUND_PORT } from './sidecar.ts';
import { deepFreeze, unknownEnums } from './testing.ts';

const BASE: BootstrapOptions = {
  nodeId: 'demo/web-1',
  cluster: 'web',
  workload: 'demo/web-1',
  mode: 'explicit',
  xds: { address: '127.0.0.1', port: 18000 },
  admin: { address: '127.0.0.1', port: ADMIN_PORT },
  outboundAddress: `127.0.0.1:${OUTBOUND_PORT}`,
};

describe('envoyBootstrap', () => {
  const cases: { name: string; options: Partial<BootstrapOptions>; check: (b: ReturnType<typeof envoyBootstrap>) => void }[] = [
    {
      name: 'plaintext: node metadata for the translator, ADS over the one static xDS cluster, HTTP/2 with keepalive',
      options: {},
      check: (b) => {
        expect(b.node).toEqual({
          id: 'demo/web-1',
          cluster: 'web',
          metadata: { [NODE_METADATA.workload]: 'demo/web-1', [NODE_METADATA.mode]: 'explicit', [NODE_METADATA.outboundAddress]: `127.0.0.1:${OUTBOUND_PORT}` },
        });
        // Issue 14: reconnects after a control-plane restart back off at most 5 s (Envoy's default cap is 30 s).
        expect(b.dynamic_resources.ads_config.grpc_services).toEqual([{ envoy_grpc: { cluster_name: XDS_CLUSTER, retry_policy: { retry_back_off: { base_interval: '0.5s', max_interval: '5s' } } } }]);
        expect(b.dynamic_resources.cds_config).toEqual({ ads: {}, resource_api_version: 'V3' });
        const [xds] = b.static_resources.clusters;
        expect(xds).toMatchObject({ name: XDS_CLUSTER, type: 'STATIC', load_assignment: { cluster_name: XDS_CLUSTER } });
        expect(xds!.transport_socket).toBeUndefined();
        expect(JSON.stringify(xds!.typed_extension_protocol_options)).toContain('"connection_keepalive":{"interval":"30s","timeout":"10s"}');
      },
    },
    {
      name: 'TLS: trusts the given root, sends the name the serving certificate carries, accepts only the control plane SPIFFE ID',
      options: { trustedCaPem: 'PEM', serverSpiffeId: 'spiffe://td/ns/trellis-system/sa/trellis' },
      check: (b) => {
        const ts = b.static_resources.clusters[0]!.transport_socket!;
        expect(ts.typed_config).toEqual({
          '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
          sni: XDS_SERVER_NAME,
          common_tls_context: {
            validation_context: { trusted_ca: { inline_string: 'PEM' }, match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: 'spiffe://td/ns/trellis-system/sa/trellis' } }] },
          },
        });
      },
    },
    {
      name: 'a token goes in the ADS stream initial metadata; zone, app ports and app address in the node',
      options: { token: 'tok', zone: 'z1', appPorts: new Map([[8080, 18080], [9090, 19090]]), appAddress: '10.0.0.1', mode: 'transparent' },
      check: (b) => {
        expect(b.dynamic_resources.ads_config.grpc_services![0]!.initial_metadata).toEqual([{ key: TOKEN_METADATA_KEY, value: 'tok' }]);
        expect(b.node.locality).toEqual({ zone: 'z1' });
        expect(b.node.metadata).toMatchObject({ [NODE_METADATA.mode]: 'transparent', [NODE_METADATA.appPorts]: '8080=18080,9090=19090', [NODE_METADATA.appAddress]: '10.0.0.1' });
      },
    },
    {
      name: 'issue 13: a token file is read by Envoy on every ADS stream (Google gRPC, file-based call credentials over TLS), server checked by the name its certificate alone carries',
      options: { trustedCaPem: 'PEM', serverSpiffeId: 'spiffe://td/ns/trellis-system/sa/trellis', tokenFile: { path: '/var/run/secrets/trellis/token', header: 'authorization', prefix: 'Bearer ' } },
      check: (b) => {
        const [svc] = b.dynamic_resources.ads_config.grpc_services!;
        expect(svc).toEqual({
          google_grpc: {
            target_uri: '127.0.0.1:18000',
            stat_prefix: XDS_CLUSTER,
            channel_credentials: { ssl_credentials: { root_certs: { inline_string: 'PEM' } } },
            call_credentials: [{
              from_plugin: {
                name: 'envoy.grpc_credentials.file_based_metadata',
                typed_config: {
                  '@type': 'type.googleapis.com/envoy.config.grpc_credential.v3.FileBasedMetadataConfig',
                  secret_data: { filename: '/var/run/secrets/trellis/token' },
                  header_key: 'authorization',
                  header_prefix: 'Bearer ',
                },
              },
            }],
            credentials_factory_name: 'envoy.grpc_credentials.file_based_metadata',
            channel_args: { args: { 'grpc.ssl_target_name_override': { string_value: XDS_SERVER_NAME }, 'grpc.keepalive_time_ms': { int_value: 30_000 }, 'grpc.keepalive_timeout_ms': { int_value: 10_000 }, 'grpc.max_receive_message_length': { int_value: -1 } } },
          },
        });
        // No token in the bootstrap, and no static cluster to dial through.
        expect(JSON.stringify(b)).not.toContain('initial_metadata');
        expect(b.static_resources.clusters).toEqual([]);
      },
    },
    {
      name: 'issue 13: an IPv6 xDS address is bracketed in the Google gRPC target',
      options: { xds: { address: '::1', port: 18000 }, trustedCaPem: 'PEM', tokenFile: { path: '/t', header: 'authorization' } },
      check: (b) => expect(b.dynamic_resources.ads_config.grpc_services![0]!.google_grpc!.target_uri).toBe('[::1]:18000'),
    },
    {
      name: 'issue 14: sidecars speak delta ADS by default (only what changed, per resource)',
      options: {},
      check: (b) => expect(b.dynamic_resources.ads_config.api_type).toBe('DELTA_GRPC'),
    },
    {
      name: 'issue 14: xdsApi sotw asks for state-of-the-world ADS',
      options: { xdsApi: 'sotw' },
      check: (b) => expect(b.dynamic_resources.ads_config.api_type).toBe('GRPC'),
    },
    {
      name: 'an xDS host name is resolved by DNS',
      options: { xds: { address: 'trellis.trellis-system.svc', port: 18000 } },
      check: (b) => expect(b.static_resources.clusters[0]!.type).toBe('STRICT_DNS'),
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const b = envoyBootstrap(deepFreeze({ ...BASE, ...c.options }));
      c.check(b);
      // The static cluster is an Envoy Cluster like any other.
      for (const cluster of b.static_resources.clusters) {
        expect(() => encodeResource(TypeUrl.Cluster, cluster)).not.toThrow();
        expect(unknownEnums(TypeUrl.Cluster, cluster)).toEqual([]);
      }
    });
  }

  it('issue 13: a token file without TLS is a bug of the caller (gRPC sends no call credentials in the clear)', () => {
    expect(() => envoyBootstrap({ ...BASE, tokenFile: { path: '/t', header: 'authorization' } })).toThrow('needs TLS');
  });

  it('prints as YAML without anchors: no part is shared between two places', () => {
    const yaml = stringify(envoyBootstrap({ ...BASE, trustedCaPem: 'PEM', token: 't' }));
    expect(yaml).not.toMatch(/[&*]a\d/);
  });
});
