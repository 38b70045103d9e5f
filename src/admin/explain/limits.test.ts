import { describe, expect, it } from 'vitest';
import { formatExplanation } from './format.ts';
import { limitsOf } from './limits.ts';

describe('issue 15: explain reads faults and rate limits from the served virtual host and route', () => {
  // As a caller's sidecar holds them (translate/limits.ts writes them; admin/ reads only what was served).
  const generic = (value: string) => [{ actions: [{ generic_key: { descriptor_key: 'trellis_policy', descriptor_value: value } }] }];
  const vhost = {
    typed_per_filter_config: {
      'envoy.filters.http.fault': {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
        delay: { fixed_delay: '2s', percentage: { numerator: 5000, denominator: 'MILLION' } },
        abort: { http_status: 503, percentage: { numerator: 300_000, denominator: 'MILLION' } },
        headers: [{ name: 'x-chaos', string_match: { exact: 'on' } }],
      },
      'envoy.filters.http.local_ratelimit': { token_bucket: { max_tokens: 10, tokens_per_fill: 5, fill_interval: '1s' } },
    },
    rate_limits: generic('demo/web'),
  };

  it('the virtual host\'s, for a route without its own', () => {
    expect(limitsOf(vhost, { route: { cluster: 'web.demo:8080' } })).toEqual({
      fault: 'abort 30% with HTTP 503; delay 0.5% by 2s (only with x-chaos: on)',
      localLimit: '5 per 1s, burst 10 (this sidecar\'s bucket)',
      globalLimit: 'counted by the rate limit service as trellis_policy=demo/web',
    });
  });

  it('a route\'s own replace the virtual host\'s', () => {
    const route = {
      typed_per_filter_config: { 'envoy.filters.http.fault': { abort: { grpc_status: 14, percentage: { numerator: 1_000_000, denominator: 'MILLION' } } } },
      route: { cluster: 'web.demo:8080', rate_limits: generic('demo/web#0') },
    };
    expect(limitsOf(vhost, route)).toMatchObject({ fault: 'abort 100% with gRPC status 14', globalLimit: 'counted by the rate limit service as trellis_policy=demo/web#0' });
  });

  it('nothing when nothing applies', () => {
    expect(limitsOf({}, { route: {} })).toEqual({});
  });

  it('trellis explain prints them beside the route\'s retries, and no line for what does not apply', () => {
    const base = {
      request: { method: 'GET', authority: 'web.demo:8080', path: '/', headers: {} },
      source: { node: 'demo/client' },
      listener: 'outbound',
      routeConfiguration: 'outbound',
      virtualHost: 'web.demo:8080',
      route: { name: 'default', index: 0, match: { prefix: '/' }, skipped: [] },
      clusters: [],
      decision: 'allow' as const,
      intents: [],
      notes: [],
    };
    const text = formatExplanation({ ...base, limits: limitsOf(vhost, { route: { cluster: 'web.demo:8080' } }) });
    expect(text).toContain('fault:          abort 30% with HTTP 503; delay 0.5% by 2s (only with x-chaos: on)\n');
    expect(text).toContain('local limit:    5 per 1s, burst 10 (this sidecar\'s bucket)\n');
    expect(text).toContain('global limit:   counted by the rate limit service as trellis_policy=demo/web\n');
    expect(formatExplanation({ ...base, limits: {} })).not.toMatch(/fault:|limit:/);
  });
});
