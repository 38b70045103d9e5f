import { describe, expect, it } from 'vitest';
import { Extension, extension, type ExtensionKey } from './extensions.ts';
import { envoyRoot } from './protos.ts';
import { messageNameOf } from './type-urls.ts';

describe('Extension: every extension Trellis configures, decided once', () => {
  const keys = Object.keys(Extension) as ExtensionKey[];

  it.each(keys)('%s: its type URL names a message of the protos Trellis loads (protos/envoy-manifest.json)', (key) => {
    const { typeUrl } = Extension[key];
    expect(typeUrl).toMatch(/^type\.googleapis\.com\/envoy\./);
    expect(() => envoyRoot().lookupType(messageNameOf(typeUrl))).not.toThrow();
  });

  it('no two extensions share a type URL', () => {
    const urls = keys.map((k) => Extension[k].typeUrl);
    expect(new Set(urls).size).toBe(urls.length);
  });

  it('extension() writes {name, typed_config} with the @type first among the fields', () => {
    expect(extension('TcpProxy', { stat_prefix: 's', cluster: 'c' })).toEqual({
      name: 'envoy.filters.network.tcp_proxy',
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 's', cluster: 'c' },
    });
  });
});
