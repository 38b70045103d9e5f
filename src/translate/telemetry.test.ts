import { describe, expect, it } from 'vitest';
import type { AccessLogPolicy, MeshSettings, Workload } from '../model/types.ts';
import { accessLogOf, hcmTelemetry, tracingCluster } from './telemetry.ts';

const workload = (namespace: string, labels: Record<string, string>): Workload => ({
  key: `${namespace}/w`, namespace, name: 'w', labels, serviceAccount: 'w', identity: `spiffe://td/ns/${namespace}/sa/w`,
  ips: [], ports: [], ready: true, terminating: false, services: [], servedPorts: [], sidecar: true, mtls: 'strict',
});

const POLICY: AccessLogPolicy = {
  mesh: { format: 'json', path: '/dev/stdout' },
  overrides: [
    { namespace: 'shop', settings: { format: 'off' } },
    { namespace: 'shop', selector: { app: 'web' }, settings: { format: 'json', path: '/var/log/web.log' } },
  ],
};

describe('issue 12: access log settings per mesh, namespace and workload', () => {
  it.each([
    { why: 'no setting: off', policy: undefined, w: workload('shop', {}), want: { format: 'off' } },
    { why: 'another namespace: the mesh', policy: POLICY, w: workload('ops', { app: 'web' }), want: { format: 'json', path: '/dev/stdout' } },
    { why: 'its namespace, no selector match', policy: POLICY, w: workload('shop', { app: 'db' }), want: { format: 'off' } },
    { why: 'a selector match beats the namespace, whatever the order', policy: POLICY, w: workload('shop', { app: 'web', version: 'v2' }), want: { format: 'json', path: '/var/log/web.log' } },
  ])('$why', ({ policy, w, want }) => {
    expect(accessLogOf(policy, w)).toEqual(want);
  });

  it('the HCMs get a file logger on both sides, with the sidecar\'s identity written in and the peer\'s from TLS', () => {
    const mesh: MeshSettings = { trustDomain: 'td', authorization: 'permissive', certificateLifetimeMs: 1, mtls: 'strict', egress: 'passthrough', accessLog: POLICY };
    const t = hcmTelemetry(mesh, workload('shop', { app: 'web' }));
    const fields = (d: 'outbound' | 'inbound') => (t[d].access_log![0]!.typed_config as unknown as { path: string; log_format: { json_format: Record<string, string> } });
    expect(t.outbound.access_log![0]!.name).toBe('envoy.access_loggers.file');
    expect(fields('outbound').path).toBe('/var/log/web.log');
    expect(fields('outbound').log_format.json_format).toMatchObject({ direction: 'outbound', source_identity: 'spiffe://td/ns/shop/sa/w', destination_identity: '%UPSTREAM_PEER_URI_SAN%' });
    expect(fields('inbound').log_format.json_format).toMatchObject({ direction: 'inbound', source_identity: '%DOWNSTREAM_PEER_URI_SAN%', destination_identity: 'spiffe://td/ns/shop/sa/w' });
    expect(t.outbound.tracing).toBeUndefined();
    expect(hcmTelemetry({ ...mesh, accessLog: undefined }, workload('shop', {}))).toEqual({ outbound: {}, inbound: {} });
  });
});

describe('issue 12: tracing', () => {
  it('OpenTelemetry to the collector cluster, named <app>.<namespace>, at the configured rate', () => {
    const tracing = { collector: { host: 'otel.ops', port: 4317 }, samplingPercent: 12.5 };
    const t = hcmTelemetry({ trustDomain: 'td', authorization: 'permissive', certificateLifetimeMs: 1, mtls: 'strict', egress: 'passthrough', tracing }, workload('shop', { app: 'web' }));
    expect(t.inbound.tracing).toEqual(t.outbound.tracing);
    expect(t.outbound.tracing).toMatchObject({
      random_sampling: { value: 12.5 },
      provider: { name: 'envoy.tracers.opentelemetry', typed_config: { '@type': 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig', service_name: 'web.shop', grpc_service: { envoy_grpc: { cluster_name: 'trellis_otel_collector' } } } },
    });
    expect(tracingCluster(tracing)).toMatchObject({ name: 'trellis_otel_collector', type: 'STRICT_DNS' });
    expect(tracingCluster({ ...tracing, collector: { host: '10.0.0.9', port: 4317 } }).type).toBe('STATIC');
  });
});
