import { describe, expect, it } from 'vitest';
import { proxyContext, workloadOf, type NodeLike } from './proxy.ts';
import { NODE_METADATA, OUTBOUND_PORT } from './sidecar.ts';
import { deepFreeze, meshWith } from './testing.ts';

const model = deepFreeze(meshWith());

/** Node metadata the way the wire decoder hands it over: the Struct already mapped to plain JSON (xds/wire.ts structToJson). */
function struct(md: Record<string, string>): Record<string, unknown> {
  return { ...md };
}

describe('proxyContext (node id and metadata → the proxy a translation is for)', () => {
  const cases: { name: string; node: NodeLike; want: Record<string, unknown> }[] = [
    {
      name: 'envoy, explicit (default): outbound on loopback, the sidecar’s outbound port, inbound and app on the pod IP',
      node: { id: 'x', user_agent_name: 'envoy', metadata: { [NODE_METADATA.workload]: 'demo/web-v1' } },
      want: {
        nodeId: 'x',
        kind: 'envoy',
        mode: 'explicit',
        outbound: { address: '127.0.0.1', port: OUTBOUND_PORT },
        inboundAddress: '127.0.0.3',
        appAddress: '127.0.0.3',
        appPorts: new Map(),
      },
    },
    {
      name: 'envoy, transparent: wildcard listeners, the application on loopback',
      node: { id: 'x', user_agent_name: 'envoy', metadata: { [NODE_METADATA.workload]: 'demo/web-v1', [NODE_METADATA.mode]: 'transparent' } },
      want: { mode: 'transparent', outbound: { address: '0.0.0.0', port: OUTBOUND_PORT }, inboundAddress: '0.0.0.0', appAddress: '127.0.0.1' },
    },
    {
      name: 'metadata as a protobuf Struct is read the same',
      node: { id: 'x', user_agent_name: 'envoy', metadata: struct({ [NODE_METADATA.workload]: 'demo/web-v1', [NODE_METADATA.mode]: 'transparent', [NODE_METADATA.appPorts]: '8080=18080' }) },
      want: { mode: 'transparent', inboundAddress: '0.0.0.0', appPorts: new Map([[8080, 18080]]) },
    },
    {
      name: 'explicit outbound address, app address and app ports',
      node: {
        id: 'x',
        user_agent_name: 'envoy',
        metadata: { [NODE_METADATA.workload]: 'demo/web-v1', [NODE_METADATA.outboundAddress]: '127.0.0.9:16001', [NODE_METADATA.appAddress]: '127.0.0.1', [NODE_METADATA.appPorts]: '8080=18080, 9090 = 19090' },
      },
      want: { outbound: { address: '127.0.0.9', port: 16001 }, appAddress: '127.0.0.1', appPorts: new Map([[8080, 18080], [9090, 19090]]) },
    },
    {
      name: 'IPv6 outbound address in brackets: the address without them (Envoy rejects "[::1]")',
      node: { id: 'x', user_agent_name: 'envoy', metadata: { [NODE_METADATA.outboundAddress]: '[::1]:15001' } },
      want: { outbound: { address: '::1', port: 15001 } },
    },
    {
      name: 'unusable outbound address or port: the default',
      node: { id: 'x', user_agent_name: 'envoy', metadata: { [NODE_METADATA.outboundAddress]: '127.0.0.1:' } },
      want: { outbound: { address: '127.0.0.1', port: OUTBOUND_PORT } },
    },
    {
      name: 'outbound address without a port: the default',
      node: { id: 'x', user_agent_name: 'envoy', metadata: { [NODE_METADATA.outboundAddress]: '127.0.0.1' } },
      want: { outbound: { address: '127.0.0.1', port: OUTBOUND_PORT } },
    },
    {
      name: 'outbound port out of range: the default',
      node: { id: 'x', user_agent_name: 'envoy', metadata: { [NODE_METADATA.outboundAddress]: '127.0.0.1:70000' } },
      want: { outbound: { address: '127.0.0.1', port: OUTBOUND_PORT } },
    },
    {
      name: 'malformed app port entries are skipped, good ones kept',
      node: { id: 'x', user_agent_name: 'envoy', metadata: { [NODE_METADATA.appPorts]: '8080=,=9,abc=1,9090=19090,1=2=3,80=0,,' } },
      want: { appPorts: new Map([[9090, 19090]]) },
    },
    {
      name: 'no workload: loopback everywhere',
      node: { id: 'unknown', user_agent_name: 'envoy' },
      want: { workload: undefined, inboundAddress: '127.0.0.1', appAddress: '127.0.0.1' },
    },
    {
      name: 'a gRPC library is proxyless',
      node: { id: 'demo/client', user_agent_name: 'grpc-node-js' },
      want: { kind: 'proxyless' },
    },
    {
      name: 'no user agent is proxyless',
      node: { id: 'demo/client' },
      want: { kind: 'proxyless' },
    },
    {
      name: 'empty metadata values count as absent',
      node: { id: 'x', user_agent_name: 'envoy', metadata: { [NODE_METADATA.mode]: '', [NODE_METADATA.appAddress]: '' } },
      want: { mode: 'explicit', appAddress: '127.0.0.1' },
    },
  ];
  for (const c of cases) it(c.name, () => expect(proxyContext(deepFreeze(c.node), model)).toMatchObject(c.want));
});

describe('workloadOf', () => {
  const cases: { name: string; node: NodeLike; want: string | undefined }[] = [
    { name: 'metadata trellis.workload', node: { id: 'anything', metadata: { [NODE_METADATA.workload]: 'demo/web-v2' } }, want: 'demo/web-v2' },
    { name: 'metadata naming an unknown pod: none (the node id is not tried)', node: { id: 'demo/web-v1', metadata: { [NODE_METADATA.workload]: 'demo/gone' } }, want: undefined },
    { name: 'node id ns/pod', node: { id: 'demo/client' }, want: 'demo/client' },
    { name: 'node id pod.ns', node: { id: 'web-v1.demo' }, want: 'demo/web-v1' },
    { name: 'node id of an unknown pod', node: { id: 'nobody.demo' }, want: undefined },
    { name: 'node id that names nothing', node: { id: 'sidecar' }, want: undefined },
  ];
  for (const c of cases) it(c.name, () => expect(workloadOf(c.node, model)?.key).toBe(c.want));
});
