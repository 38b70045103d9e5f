/**
 * The generated Envoy types make a misspelt field, enum value or extension
 * field a compile error in builders. The `@ts-expect-error` lines below are
 * checked by tsc (npm test typechecks before it runs vitest): were the types
 * loose, the line would compile and tsc would fail on the unused directive.
 * At run time the same objects show what the encoder alone would do with them.
 */
import { describe, expect, it } from 'vitest';
import { encodeResource, InvalidResourceError } from '../cache/resource.ts';
import type { Cluster, HttpConnectionManager } from './envoy-types.ts';
import { envoyJson } from './envoy-json.ts';
import { Extension, typedConfig } from './extensions.ts';
import { TypeUrl } from './type-urls.ts';

describe('generated Envoy types', () => {
  it('a misspelt field does not compile, and would not encode', () => {
    // @ts-expect-error: Cluster has no field conect_timeout
    const misspelt: Cluster = { name: 'c', conect_timeout: '1s' };
    expect(() => encodeResource(TypeUrl.Cluster, misspelt)).toThrow(InvalidResourceError);
  });

  it('a misspelt enum value does not compile: the encoder would silently write the default', () => {
    // @ts-expect-error: no lb_policy LEAST_REQUESTS (it is LEAST_REQUEST)
    const misspelt: Cluster = { name: 'c', type: 'EDS', lb_policy: 'LEAST_REQUESTS' };
    // protobufjs drops an enum name it does not know, so the field falls back to
    // ROUND_ROBIN (0) without a word: only the compiler catches this one.
    expect(envoyJson(TypeUrl.Cluster, encodeResource(TypeUrl.Cluster, misspelt).value).lb_policy).toBeUndefined();
  });

  it('a duration without its unit does not compile, and would not encode', () => {
    // @ts-expect-error: a Duration is "1s", not "1"
    const unitless: Cluster = { name: 'c', connect_timeout: '1' };
    expect(() => encodeResource(TypeUrl.Cluster, unitless)).toThrow(/connect_timeout.*not a duration/);
  });

  it('typedConfig checks the fields of the message its type URL names', () => {
    // @ts-expect-error: HttpConnectionManager has no field stat_prefx
    const bad = typedConfig('HttpConnectionManager', { stat_prefx: 'x' });
    expect(bad).toEqual({ '@type': Extension.HttpConnectionManager.typeUrl, stat_prefx: 'x' });
    const hcm: HttpConnectionManager = { stat_prefix: 'x', codec_type: 'AUTO' };
    // The form the encoder expands: '@type' beside the message's own fields.
    expect(typedConfig('HttpConnectionManager', hcm)).toEqual({ '@type': Extension.HttpConnectionManager.typeUrl, stat_prefix: 'x', codec_type: 'AUTO' });
  });

  it('well-known types take their proto3 JSON form and encode as their message form does', () => {
    const json: Cluster = { name: 'c', connect_timeout: '1.5s', per_connection_buffer_limit_bytes: 1024 };
    const message: Cluster = { name: 'c', connect_timeout: { seconds: 1, nanos: 500_000_000 }, per_connection_buffer_limit_bytes: { value: 1024 } };
    expect(encodeResource(TypeUrl.Cluster, json).value).toEqual(encodeResource(TypeUrl.Cluster, message).value);
  });
});
