/**
 * issue 10: the status Trellis writes on its own Gateways in a cluster, for
 * the conformance suite's status cases (GatewayListenerUnsupportedProtocol,
 * GatewayInvalidTLSConfiguration: ConditionsHaveLatestObservedGeneration and
 * GatewayStatusMustHaveListeners): a Gateway none of whose listeners can be
 * served is written too, and every condition, the Gateway's and each
 * listener's, carries the generation it describes.
 */
import { describe, expect, it } from 'vitest';
import { buildWith } from '../../model/testing.ts';
import { gatewayStatus, isOwnGatewayStatus } from './gateway-status.ts';
import { TRELLIS_GATEWAY_CLASS_YAML } from '../../model/gateway-testing.ts';

const GATEWAY = `${TRELLIS_GATEWAY_CLASS_YAML}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: demo}
spec:
  gatewayClassName: trellis
  listeners:
  - {name: invalid, port: 1111, protocol: INVALID}
  - {name: https, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: nonexistent-certificate}]}}
`;

describe('issue 10: gatewayStatus (Kubernetes)', () => {
  it('a Gateway with no servable listener is Trellis\'s to write: Accepted=False ListenersNotValid, each listener\'s conditions, observedGeneration on every condition', () => {
    const s = buildWith(GATEWAY).statuses.find((x) => x.kind === 'Gateway')!;
    expect(isOwnGatewayStatus(s)).toBe(true);
    const body = gatewayStatus({ ...s, generation: 4 }, undefined, 't1');
    expect(body.conditions.map((c) => [c.type, c.status, c.reason, c.observedGeneration])).toEqual([['Accepted', 'False', 'ListenersNotValid', 4], ['Programmed', 'False', 'Invalid', 4]]);
    expect(body.listeners!.map((l) => [l.name, l.supportedKinds.map((k) => k.kind), l.attachedRoutes])).toEqual([['invalid', [], 0], ['https', ['HTTPRoute', 'GRPCRoute'], 0]]);
    expect(body.listeners!.flatMap((l) => l.conditions.map((c) => c.observedGeneration))).toEqual(Array(8).fill(4));
    expect(body.listeners!.map((l) => l.conditions.filter((c) => c.status === (c.type === 'Conflicted' ? 'True' : 'False')).map((c) => `${c.type}/${c.reason}`))).toEqual([
      ['Accepted/UnsupportedProtocol', 'Programmed/Invalid'],
      ['ResolvedRefs/InvalidCertificateRef', 'Programmed/Invalid'],
    ]);
  });
});
