import { describe, expect, it } from 'vitest';
import { encodeDeltaResponse, encodeSotwResponse } from './wire.ts';
import { messageType } from './protos.ts';
import { TypeUrl } from './type-urls.ts';

const fields = [Buffer.from([0x12, 0x02, 0x0a, 0x00]), Buffer.from([0x12, 0x00])];

describe('issue 14: response headers made once per version and type, only the nonce per stream (wire.ts)', () => {
  it('SotW: the same bytes as protobufjs encodes, across versions, types and nonces', () => {
    const T = messageType('envoy.service.discovery.v3.DiscoveryResponse');
    const cases: Array<[string, string, string]> = [
      ['v1', TypeUrl.Endpoint, '1'],
      ['v1', TypeUrl.Endpoint, 'zz'],
      ['v1', TypeUrl.Cluster, '2'],
      ['v2', TypeUrl.Endpoint, '3'],
      ['', TypeUrl.Endpoint, '4'],
      ['v2', TypeUrl.Endpoint, ''],
      ['v2', TypeUrl.Endpoint, 'ñonce-é'],
      ['v2', TypeUrl.Endpoint, 'n'.repeat(300)],
    ];
    for (const [versionInfo, typeUrl, nonce] of cases) {
      const ours = encodeSotwResponse({ versionInfo, typeUrl, nonce, resourceFields: fields }).toBuffer();
      const decoded = T.toObject(T.decode(ours), { defaults: true }) as { version_info: string; type_url: string; nonce: string; resources: unknown[] };
      expect([decoded.version_info, decoded.type_url, decoded.nonce, decoded.resources.length]).toEqual([versionInfo, typeUrl, nonce, 2]);
      // Field order as before (1, 4, 5, then the resources; empty strings left out): the bytes protobufjs writes for the head.
      const present = Object.entries({ version_info: versionInfo, type_url: typeUrl, nonce }).filter(([, v]) => v !== '');
      const head = Buffer.from(T.encode(T.fromObject(Object.fromEntries(present))).finish());
      expect(ours).toEqual(Buffer.concat([head, ...fields]));
    }
  });

  it('delta: system_version_info, type and nonce, then resources and removals', () => {
    const T = messageType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
    const bytes = encodeDeltaResponse({ systemVersionInfo: 's1', typeUrl: TypeUrl.Endpoint, nonce: 'a', resourceFields: [], removed: ['x'] }).toBuffer();
    const o = T.toObject(T.decode(bytes)) as Record<string, unknown>;
    expect(o).toEqual({ system_version_info: 's1', type_url: TypeUrl.Endpoint, nonce: 'a', removed_resources: ['x'] });
  });
});
