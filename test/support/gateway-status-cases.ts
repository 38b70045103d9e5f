/**
 * The GATEWAY-HTTP core conformance cases of sigs.k8s.io/gateway-api/conformance
 * v1.6.3 that assert status only (no request table): Gateway, listener,
 * GatewayClass and route conditions, and their observedGeneration after an
 * edit of the object. Each is transcribed from the .go file it cites
 * (tests/<go>: the kubernetes.* helpers it calls, in order, with their
 * arguments; test/support/gateway-status-check.ts says what each compares),
 * and runs on the manifest the module carries (tests/<manifest>), applied
 * over the suite's base (test/support/gateway-conformance.ts). An edit is
 * the `Patch` of the .go: the object changed as the .go changes it, then
 * written again.
 */
import type { StatusCheck } from './gateway-status-check.ts';
import { INFRA_NS, type Condition } from './gateway-http-cases.ts';

type Json = Record<string, any>; // manifests, edited as the .go edits them

export interface StatusCase {
  name: string;
  /** tests/<go> */
  go: string;
  /** tests/<manifest> */
  manifest: string;
  /** What the case asserts after its manifest is applied. */
  check: StatusCheck;
  /** Then: the object (`Kind ns/name`, or `Kind name`) it patches, how, and what it asserts after (its new generation among it). */
  edits?: { object: string; change(o: Json): void; check: StatusCheck }[];
  /** Why Trellis does not pass the case (shown in the table); the case is still run and must fail. */
  unsupported?: string;
}

const infra = (name: string) => `${INFRA_NS}/${name}`;
const acceptedAny: Condition = ['Accepted', 'True', ''];
const resolvedAny: Condition = ['ResolvedRefs', 'True', ''];
/** An `https` / `http` listener that carries HTTPRoutes, as the certificate and listener cases expect it. */
const https = (conditions: Condition[], attachedRoutes = 0) => ({ name: 'https', supportedKinds: ['HTTPRoute'], attachedRoutes, conditions });
const http = (conditions: Condition[], attachedRoutes = 0) => ({ name: 'http', supportedKinds: ['HTTPRoute'], attachedRoutes, conditions });

export const STATUS_CASES: StatusCase[] = [
  {
    name: 'GatewayClassObservedGenerationBump', go: 'gatewayclass-observed-generation-bump.go', manifest: 'gatewayclass-observed-generation-bump.yaml',
    check: { gatewayClassAccepted: 'gatewayclass-observed-generation-bump' },
    edits: [{
      object: 'GatewayClass gatewayclass-observed-generation-bump',
      change: (o) => { o.spec.description = 'new'; },
      check: { gatewayClassAccepted: 'gatewayclass-observed-generation-bump' },
    }],
  },
  {
    name: 'GatewayObservedGenerationBump', go: 'gateway-observed-generation-bump.go', manifest: 'gateway-observed-generation-bump.yaml',
    check: { ready: [INFRA_NS], latest: [`Gateway ${infra('gateway-observed-generation-bump')}`] },
    edits: [{
      object: `Gateway ${infra('gateway-observed-generation-bump')}`,
      change: (o) => { o.spec.listeners.push({ name: 'alternate', hostname: 'foo.com', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } }); },
      check: { ready: [INFRA_NS], latest: [`Gateway ${infra('gateway-observed-generation-bump')}`] },
    }],
  },
  {
    name: 'HTTPRouteObservedGenerationBump', go: 'httproute-observed-generation-bump.go', manifest: 'httproute-observed-generation-bump.yaml',
    check: { ready: [INFRA_NS], latest: [`HTTPRoute ${infra('observed-generation-bump')}`] },
    edits: [{
      object: `HTTPRoute ${infra('observed-generation-bump')}`,
      change: (o) => { o.spec.rules[0].backendRefs[0].name = 'infra-backend-v2'; },
      check: {
        ready: [INFRA_NS],
        routes: [{ route: infra('observed-generation-bump'), gateway: infra('same-namespace'), conditions: [acceptedAny, ['ResolvedRefs', 'True', 'ResolvedRefs']] }],
        latest: [`HTTPRoute ${infra('observed-generation-bump')}`],
      },
    }],
  },
  {
    name: 'GatewayInvalidRouteKind', go: 'gateway-invalid-route-kind.go', manifest: 'gateway-invalid-route-kind.yaml',
    check: {
      gateways: [
        { gateway: infra('gateway-only-invalid-route-kind'), listeners: [{ name: 'http', supportedKinds: [], attachedRoutes: 0, conditions: [['ResolvedRefs', 'False', 'InvalidRouteKinds']] }] },
        { gateway: infra('gateway-supported-and-invalid-route-kind'), listeners: [http([['ResolvedRefs', 'False', 'InvalidRouteKinds']])] },
      ],
    },
  },
  {
    name: 'GatewayInvalidTLSConfiguration', go: 'gateway-invalid-tls-configuration.go', manifest: 'gateway-invalid-tls-configuration.yaml',
    check: {
      gateways: ['nonexistent-secret', 'unsupported-group', 'unsupported-kind', 'malformed-secret']
        .map((g) => ({ gateway: infra(`gateway-certificate-${g}`), listeners: [https([['ResolvedRefs', 'False', 'InvalidCertificateRef']])] })),
    },
  },
  {
    name: 'GatewayListenerUnsupportedProtocol', go: 'gateway-invalid-listeners-unsupported-protocol.go', manifest: 'gateway-invalid-listeners-unsupported-protocol.yaml',
    check: {
      gateways: [
        {
          gateway: infra('gateway-only-unsupported-protocols'), conditions: [['Accepted', 'False', 'ListenersNotValid']],
          listeners: [{ name: 'invalid', supportedKinds: [], attachedRoutes: 0, conditions: [['Accepted', 'False', 'UnsupportedProtocol']] }],
        },
        {
          gateway: infra('gateway-supported-and-unsupported-protocols'), conditions: [['Accepted', 'True', 'ListenersNotValid']],
          listeners: [
            http([['Accepted', 'True', 'Accepted']]),
            { name: 'invalid', supportedKinds: [], attachedRoutes: 0, conditions: [['Accepted', 'False', 'UnsupportedProtocol']] },
          ],
        },
      ],
    },
  },
  {
    name: 'GatewayModifyListeners', go: 'gateway-modify-listeners.go', manifest: 'gateway-modify-listeners.yaml',
    check: { ready: [INFRA_NS], latest: [`Gateway ${infra('gateway-add-listener')}`, `Gateway ${infra('gateway-remove-listener')}`] },
    edits: [
      {
        object: `Gateway ${infra('gateway-add-listener')}`,
        change: (o) => { o.spec.listeners.push({ name: 'http', port: 80, protocol: 'HTTP', hostname: 'data.test.com', allowedRoutes: { namespaces: { from: 'All' } } }); },
        check: {
          ready: [INFRA_NS],
          gateways: [{ gateway: infra('gateway-add-listener'), listeners: [https([acceptedAny, resolvedAny], 1), http([acceptedAny, resolvedAny], 1)] }],
        },
      },
      {
        object: `Gateway ${infra('gateway-remove-listener')}`,
        change: (o) => { o.spec.listeners = (o.spec.listeners as Json[]).filter((l) => l.name === 'http'); },
        check: {
          ready: [INFRA_NS],
          gateways: [{ gateway: infra('gateway-remove-listener'), listeners: [http([acceptedAny, resolvedAny], 1)] }],
        },
      },
    ],
  },
  {
    name: 'GatewayWithAttachedRoutes', go: 'gateway-with-attached-routes.go', manifest: 'gateway-with-attached-routes.yaml',
    check: {
      gateways: [
        { gateway: infra('gateway-with-one-attached-route'), listeners: [http([acceptedAny, resolvedAny], 1)] },
        { gateway: infra('gateway-with-two-attached-routes'), listeners: [http([acceptedAny, resolvedAny], 2)] },
        {
          gateway: infra('unresolved-gateway-with-one-attached-unresolved-route'),
          listeners: [{ name: 'tls', supportedKinds: ['HTTPRoute'], attachedRoutes: 1, conditions: [['Programmed', 'False', ''], ['ResolvedRefs', 'False', '']] }],
        },
      ],
      routes: [
        { route: infra('http-route-not-accepted'), gateway: infra('gateway-with-two-attached-routes'), conditions: [['Accepted', 'False', 'NoMatchingListenerHostname']] },
        { route: infra('http-route-4'), gateway: infra('unresolved-gateway-with-one-attached-unresolved-route'), conditions: [['ResolvedRefs', 'False', '']] },
      ],
    },
  },
  {
    name: 'GatewaySecretInvalidReferenceGrant', go: 'gateway-secret-invalid-reference-grant.go', manifest: 'gateway-secret-invalid-reference-grant.yaml',
    check: { gateways: [{ gateway: infra('gateway-secret-invalid-reference-grant'), listeners: [https([['ResolvedRefs', 'False', 'RefNotPermitted']])] }] },
  },
  {
    name: 'GatewaySecretMissingReferenceGrant', go: 'gateway-secret-missing-reference-grant.go', manifest: 'gateway-secret-missing-reference-grant.yaml',
    check: { gateways: [{ gateway: infra('gateway-secret-missing-reference-grant'), listeners: [https([['ResolvedRefs', 'False', 'RefNotPermitted']])] }] },
  },
  {
    name: 'GatewaySecretReferenceGrantAllInNamespace', go: 'gateway-secret-reference-grant-all-in-namespace.go', manifest: 'gateway-secret-reference-grant-all-in-namespace.yaml',
    check: { gateways: [{ gateway: infra('gateway-secret-reference-grant-all-in-namespace'), listeners: [https([['Programmed', 'True', 'Programmed'], resolvedAny])] }] },
  },
  {
    name: 'GatewaySecretReferenceGrantSpecific', go: 'gateway-secret-reference-grant-specific.go', manifest: 'gateway-secret-reference-grant-specific.yaml',
    check: { gateways: [{ gateway: infra('gateway-secret-reference-grant-specific'), listeners: [https([['Programmed', 'True', 'Programmed'], resolvedAny])] }] },
  },
  {
    name: 'HTTPRouteDisallowedKind', go: 'httproute-disallowed-kind.go', manifest: 'httproute-disallowed-kind.yaml',
    check: {
      ready: [INFRA_NS],
      routes: [{ route: infra('disallowed-kind'), gateway: infra('tlsroutes-only'), conditions: [['ResolvedRefs', 'True', 'ResolvedRefs'], ['Accepted', 'False', 'NotAllowedByListeners']] }],
      noAcceptedParents: [infra('disallowed-kind')],
      gateways: [{ gateway: infra('tlsroutes-only'), zeroRoutes: true }],
    },
  },
];
