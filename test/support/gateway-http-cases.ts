/**
 * The GATEWAY-HTTP core conformance cases of sigs.k8s.io/gateway-api/conformance
 * v1.6.3 (features SupportGateway + SupportHTTPRoute, and SupportReferenceGrant,
 * which the profile makes core), their expectation tables transcribed from
 * the .go file each cites (tests/<file>.go: `http.ExpectedResponse` literals,
 * and the status the case asserts with kubernetes.HTTPRouteMustHave… /
 * GatewayStatusMustHaveListeners), their manifests read from the module at
 * run time (tests/<file>.yaml), applied over the suite's base
 * (conformance/base/manifests.yaml: test/support/gateway-conformance.ts).
 *
 * What a request expectation compares is what the gateway suite's
 * round-tripper compares (conformance/utils/http CompareRoundTrip): status,
 * answering pod (Backend, a name prefix) and namespace, request headers the
 * backend saw and absent ones, the path it saw, the redirect's Location
 * (test/support/conformance-compare.ts). A request without Host goes with the
 * gateway's address as Host, as the suite's does.
 */
import { headerModifierTable, type Expectation } from './gamma-cases.ts';
import { controllerSlice, type MeshPod } from './gamma-mesh.ts';

type Json = Record<string, any>; // manifests, completed as the .go and the cluster's controllers complete them

export const INFRA_NS = 'gateway-conformance-infra';
export const APP_NS = 'gateway-conformance-app-backend';
export const WEB_NS = 'gateway-conformance-web-backend';
/** The base Gateways (conformance/base/manifests.yaml). */
export const SAME_NAMESPACE = `${INFRA_NS}/same-namespace`;
export const ALL_NAMESPACES = `${INFRA_NS}/all-namespaces`;
export const BACKEND_NAMESPACES = `${INFRA_NS}/backend-namespaces`;
export const HTTPS_GATEWAY = `${INFRA_NS}/same-namespace-with-https-listener`;

const V1 = 'infra-backend-v1';
const V2 = 'infra-backend-v2';
const V3 = 'infra-backend-v3';

export interface GatewayExpectation extends Omit<Expectation, 'from'> {
  /** The Gateway (`ns/name`) the request is sent to; default the case's. */
  gateway?: string;
  /** Over TLS to the gateway's HTTPS port, SNI = the request's host, trusting the listener's certificate (tls.MakeTLSRequest…). */
  https?: boolean;
}

/** A route parent's conditions as the case asserts them: [type, status, reason]; a reason '' is "any reason". */
export type Condition = [type: string, status: 'True' | 'False', reason: string];

export interface RouteStatus {
  /** `ns/name` of the HTTPRoute */
  route: string;
  /** `ns/name` of the parent Gateway */
  gateway: string;
  /** Conditions that must be there (others may be too). */
  conditions: Condition[];
}

export interface GatewayCase {
  name: string;
  /** tests/<go> */
  go: string;
  /** tests/<manifest> */
  manifest: string;
  /** The Gateway requests go to (gwNN); default same-namespace. */
  gateway?: string;
  /** Routes the case asserts Accepted (GatewayAndHTTPRoutesMustBeAccepted) and ResolvedRefs True (HTTPRouteMustHaveResolvedRefsConditionsTrue), on `gateway`. */
  accepted?: string[];
  /** Routes that are Accepted but whose ResolvedRefs the case does not require True. */
  acceptedOnly?: string[];
  /** Other parent conditions the case asserts (HTTPRouteMustHaveCondition, HTTPRouteMustHaveParents). */
  routeStatus?: RouteStatus[];
  /** GatewayMustHaveZeroRoutes / GatewayStatusMustHaveListeners: attachedRoutes per listener of a Gateway (`ns/name`). */
  attachedRoutes?: { gateway: string; listeners: Record<string, number> }[];
  expectations?: GatewayExpectation[];
  /** httproute-weight.go: the share of requests each backend must get (±5 points over 500, as weight.go). */
  weights?: Record<string, number>;
  /** The case then deletes an object (`Kind ns/name`) and expects these. */
  thenDelete?: { object: string; expectations: GatewayExpectation[] };
  /**
   * What the .go (or a controller of the cluster) does to the manifest's
   * objects before its requests, given the base's pods.
   */
  prepare?: (objects: Json[], pods: readonly MeshPod[]) => Json[];
  /** Why Trellis does not pass the case (shown in the table); the case is still run and must fail the way stated. */
  unsupported?: string;
  /** With `unsupported`: the checks (by name) that fail. */
  failing?: string[];
}

const r = (path: string, headers?: Record<string, string>): GatewayExpectation['request'] => ({ path, ...(headers ? { headers } : {}) });
const at = (host: string, path = '/'): GatewayExpectation['request'] => ({ host, path });
const infra = (request: GatewayExpectation['request'], backend: string): GatewayExpectation => ({ request, backend, namespace: INFRA_NS });
const status = (request: GatewayExpectation['request'], code: number): GatewayExpectation => ({ request, status: [code] });
const on = (gateway: string, e: GatewayExpectation): GatewayExpectation => ({ ...e, gateway });
const infraRoute = (name: string) => `${INFRA_NS}/${name}`;
const accepted: Condition = ['Accepted', 'True', ''];

/**
 * httproute-service-types.go: `setupEndpointSlices` gives the manual
 * Services' `-ip4` / `-ip6` slices the addresses of infra-backend-v1's pods
 * of that family (ready, serving, a Pod targetRef); the endpoint controller
 * writes the slice of the `headless` Service (it has a selector). The
 * sidecars run in explicit mode, so, as the base's, the slices name the
 * Service port where the manifest names the targetPort (3000).
 */
function serviceTypesEndpoints(objects: Json[], pods: readonly MeshPod[]): Json[] {
  const v1 = pods.filter((p) => p.namespace === INFRA_NS && p.labels.app === V1);
  const services = objects.filter((o) => o.kind === 'Service');
  const slices = objects.filter((o) => o.kind === 'EndpointSlice').map((o) => {
    const service = services.find((x) => x.metadata.name === o.metadata.labels['kubernetes.io/service-name']);
    const ports = (o.ports as Json[]).map((p) => ({ ...p, port: (service?.spec.ports as Json[] | undefined)?.find((sp) => sp.name === p.name)?.port ?? p.port }));
    const family = o.addressType === 'IPv4' ? v1 : []; // the pods' addresses are IPv4
    return family.length === 0 ? { ...o, ports } : {
      ...o, ports,
      endpoints: family.map((p) => ({ addresses: [p.ip], conditions: { ready: true, serving: true, terminating: false }, targetRef: { kind: 'Pod', name: p.name, namespace: p.namespace } })),
    };
  });
  const controller = services.filter((s) => s.spec.selector).map((s) => controllerSlice(s, pods, 'service'));
  return [...objects.filter((o) => o.kind !== 'EndpointSlice'), ...slices, ...controller];
}

export const GATEWAY_CASES: GatewayCase[] = [
  {
    name: 'HTTPRouteSimpleSameNamespace', go: 'httproute-simple-same-namespace.go', manifest: 'httproute-simple-same-namespace.yaml',
    accepted: [infraRoute('gateway-conformance-infra-test')],
    expectations: [{ ...infra(r('/'), V1), status: [200] }],
  },
  {
    name: 'HTTPRouteMatching', go: 'httproute-matching.go', manifest: 'httproute-matching.yaml', accepted: [infraRoute('matching')],
    expectations: [
      infra(r('/'), V1), infra(r('/example'), V1), infra(r('/', { Version: 'one' }), V1),
      infra(r('/v2'), V2), infra(r('/v2/example'), V2), infra(r('/', { Version: 'two' }), V2),
      infra(r('/v2/'), V2), infra(r('/v2example'), V1), infra(r('/foo/v2/example'), V1),
    ],
  },
  {
    name: 'HTTPRouteExactPathMatching', go: 'httproute-exact-path-matching.go', manifest: 'httproute-exact-path-matching.yaml', accepted: [infraRoute('exact-matching')],
    expectations: [infra(r('/one'), V1), infra(r('/two'), V2), status(r('/'), 404), status(r('/one/example'), 404), status(r('/two/'), 404), status(r('/Two'), 404)],
  },
  {
    name: 'HTTPRoutePathMatchOrder', go: 'httproute-path-match-order.go', manifest: 'httproute-path-match-order.yaml', accepted: [infraRoute('path-matching-order')],
    expectations: [
      infra(r('/match/exact/one'), V3), infra(r('/match/exact'), V2), infra(r('/match'), V1),
      infra(r('/match/prefix/one/any'), V2), infra(r('/match/prefix/any'), V1), infra(r('/match/any'), V3),
    ],
  },
  {
    name: 'HTTPRouteHeaderMatching', go: 'httproute-header-matching.go', manifest: 'httproute-header-matching.yaml', accepted: [infraRoute('header-matching')],
    expectations: [
      infra(r('/', { Version: 'one' }), V1), infra(r('/', { Version: 'two' }), V2),
      infra(r('/', { Version: 'two', Color: 'orange' }), V1), infra(r('/', { Version: 'two', Color: 'blue' }), V2),
      status(r('/', { Color: 'orange' }), 404), status(r('/', { 'Some-Other-Header': 'one' }), 404),
      infra(r('/', { Color: 'blue' }), V1), infra(r('/', { Color: 'green' }), V1),
      infra(r('/', { Color: 'red' }), V2), infra(r('/', { Color: 'yellow' }), V2),
      status(r('/', { Color: 'purple' }), 404),
    ],
  },
  {
    name: 'HTTPRouteHostnameIntersection', go: 'httproute-hostname-intersection.go', manifest: 'httproute-hostname-intersection.yaml',
    gateway: `${INFRA_NS}/httproute-hostname-intersection`,
    accepted: ['specific-host-matches-listener-specific-host', 'specific-host-matches-listener-wildcard-host', 'wildcard-host-matches-listener-specific-host', 'wildcard-host-matches-listener-wildcard-host'].map(infraRoute),
    routeStatus: [{ route: infraRoute('no-intersecting-hosts'), gateway: `${INFRA_NS}/httproute-hostname-intersection`, conditions: [['Accepted', 'False', 'NoMatchingListenerHostname']] }],
    attachedRoutes: [{ gateway: `${INFRA_NS}/httproute-hostname-intersection`, listeners: { 'listener-1': 2, 'listener-2': 1, 'listener-3': 1 } }],
    expectations: [
      infra(at('very.specific.com', '/s1'), V1), infra(at('very.specific.com:1234', '/s1'), V1), status(at('non.matching.com', '/s1'), 404),
      status(at('foo.nonmatchingwildcard.io', '/s1'), 404), status(at('foo.wildcard.io', '/s1'), 404), status(at('very.specific.com', '/non-matching-prefix'), 404),
      infra(at('foo.wildcard.io', '/s2'), V2), infra(at('bar.wildcard.io', '/s2'), V2), infra(at('foo.bar.wildcard.io', '/s2'), V2),
      status(at('non.matching.com', '/s2'), 404), status(at('wildcard.io', '/s2'), 404), status(at('very.specific.com', '/s2'), 404), status(at('foo.wildcard.io', '/non-matching-prefix'), 404),
      infra(at('very.specific.com', '/s3'), V3), status(at('non.matching.com', '/s3'), 404), status(at('foo.specific.com', '/s3'), 404),
      status(at('foo.wildcard.io', '/s3'), 404), status(at('very.specific.com', '/non-matching-prefix'), 404),
      infra(at('foo.anotherwildcard.io', '/s4'), V1), infra(at('bar.anotherwildcard.io', '/s4'), V1), infra(at('foo.bar.anotherwildcard.io', '/s4'), V1),
      status(at('anotherwildcard.io', '/s4'), 404), status(at('foo.wildcard.io', '/s4'), 404), status(at('very.specific.com', '/s4'), 404), status(at('foo.anotherwildcard.io', '/non-matching-prefix'), 404),
      status(at('specific.but.wrong.com', '/s5'), 404), status(at('wildcard.io', '/s5'), 404),
      ...[infra(at('first.com'), V2), infra(at('sub.first.com'), V2), infra(at('second.com'), V2), infra(at('sub.second.com'), V2), status(at('third.com'), 404), status(at('sub.third.com'), 404)]
        .map((e) => on(`${INFRA_NS}/httproute-hostname-intersection-all`, e)),
    ],
  },
  {
    name: 'HTTPRouteListenerHostnameMatching', go: 'httproute-listener-hostname-matching.go', manifest: 'httproute-listener-hostname-matching.yaml',
    gateway: `${INFRA_NS}/httproute-listener-hostname-matching`, accepted: ['backend-v1', 'backend-v2', 'backend-v3'].map(infraRoute),
    expectations: [
      infra(at('bar.com'), V1), infra(at('foo.bar.com'), V2), infra(at('baz.bar.com'), V3), infra(at('boo.bar.com'), V3),
      infra(at('multiple.prefixes.bar.com'), V3), infra(at('multiple.prefixes.foo.com'), V3), status(at('foo.com'), 404), status(at('no.matching.host'), 404),
    ],
  },
  {
    name: 'HTTPRouteMatchingAcrossRoutes', go: 'httproute-matching-across-routes.go', manifest: 'httproute-matching-across-routes.yaml', accepted: [infraRoute('matching-part1'), infraRoute('matching-part2')],
    expectations: [
      infra(at('example.com'), V1), infra(at('example.com', '/example'), V1), infra(at('example.net', '/example'), V1),
      infra({ ...at('example.com', '/example'), headers: { Version: 'one' } }, V1), infra(at('example.com', '/v2'), V2), infra(at('example.net', '/v2'), V1),
      infra(at('example.com', '/v2/example'), V2), infra({ ...at('example.com'), headers: { Version: 'two' } }, V2),
    ],
  },
  {
    name: 'HTTPRouteCrossNamespace', go: 'httproute-cross-namespace.go', manifest: 'httproute-cross-namespace.yaml', gateway: BACKEND_NAMESPACES, accepted: [`${WEB_NS}/cross-namespace`],
    expectations: [{ request: r('/'), status: [200], backend: 'web-backend', namespace: WEB_NS }],
  },
  {
    name: 'HTTPRouteReferenceGrant', go: 'httproute-reference-grant.go', manifest: 'httproute-reference-grant.yaml', accepted: [infraRoute('reference-grant')],
    expectations: [{ request: { method: 'GET', path: '/' }, status: [200], backend: 'web-backend', namespace: WEB_NS }],
    thenDelete: { object: `ReferenceGrant ${WEB_NS}/reference-grant`, expectations: [status({ method: 'GET', path: '/' }, 500)] },
  },
  {
    name: 'HTTPRouteInvalidCrossNamespaceBackendRef', go: 'httproute-invalid-cross-namespace-backend-ref.go', manifest: 'httproute-invalid-cross-namespace-backend-ref.yaml',
    acceptedOnly: [infraRoute('invalid-cross-namespace-backend-ref')],
    routeStatus: [{ route: infraRoute('invalid-cross-namespace-backend-ref'), gateway: SAME_NAMESPACE, conditions: [['ResolvedRefs', 'False', 'RefNotPermitted']] }],
    expectations: [status({ path: '/' }, 500)],
  },
  {
    name: 'HTTPRouteInvalidReferenceGrant', go: 'httproute-invalid-reference-grant.go', manifest: 'httproute-invalid-reference-grant.yaml',
    acceptedOnly: [infraRoute('reference-grant')],
    routeStatus: [{ route: infraRoute('reference-grant'), gateway: SAME_NAMESPACE, conditions: [['ResolvedRefs', 'False', 'RefNotPermitted']] }],
    expectations: [status({ method: 'GET', path: '/' }, 500)],
  },
  {
    name: 'HTTPRoutePartiallyInvalidViaInvalidReferenceGrant', go: 'httproute-partially-invalid-via-invalid-reference-grant.go', manifest: 'httproute-partially-invalid-via-invalid-reference-grant.yaml',
    acceptedOnly: [infraRoute('invalid-reference-grant')],
    routeStatus: [{ route: infraRoute('invalid-reference-grant'), gateway: SAME_NAMESPACE, conditions: [['ResolvedRefs', 'False', 'RefNotPermitted']] }],
    expectations: [status({ method: 'GET', path: '/v2' }, 500), { request: { method: 'GET', path: '/' }, status: [200], backend: 'app-backend-v1', namespace: APP_NS }],
  },
  {
    name: 'HTTPRouteInvalidNonExistentBackendRef', go: 'httproute-invalid-nonexistent-backendref.go', manifest: 'httproute-invalid-nonexistent-backendref.yaml',
    acceptedOnly: [infraRoute('invalid-nonexistent-backend-ref')],
    routeStatus: [{ route: infraRoute('invalid-nonexistent-backend-ref'), gateway: SAME_NAMESPACE, conditions: [['ResolvedRefs', 'False', 'BackendNotFound']] }],
    expectations: [status({ method: 'GET', path: '/' }, 500)],
  },
  {
    name: 'HTTPRouteInvalidBackendRefUnknownKind', go: 'httproute-invalid-backendref-unknown-kind.go', manifest: 'httproute-invalid-backendref-unknown-kind.yaml',
    acceptedOnly: [infraRoute('invalid-backend-ref-unknown-kind')],
    routeStatus: [{ route: infraRoute('invalid-backend-ref-unknown-kind'), gateway: SAME_NAMESPACE, conditions: [['ResolvedRefs', 'False', 'InvalidKind']] }],
    expectations: [status({ method: 'GET', path: '/v2' }, 500)],
  },
  {
    name: 'HTTPRouteNoBackendRefs', go: 'httproute-omitted-backendrefs.go', manifest: 'httproute-omitted-backendrefs.yaml', accepted: [infraRoute('omitted-backendrefs')],
    expectations: [infra(r('/forward'), V1), status(r('/omitted-no-forward'), 500), status(r('/empty-no-forward'), 500)],
  },
  {
    name: 'HTTPRouteInvalidCrossNamespaceParentRef', go: 'httproute-invalid-cross-namespace-parent-ref.go', manifest: 'httproute-invalid-cross-namespace-parent-ref.yaml',
    routeStatus: [{ route: `${WEB_NS}/invalid-cross-namespace-parent-ref`, gateway: SAME_NAMESPACE, conditions: [['Accepted', 'False', 'NotAllowedByListeners'], ['ResolvedRefs', 'True', '']] }],
    attachedRoutes: [{ gateway: SAME_NAMESPACE, listeners: { http: 0 } }],
  },
  {
    name: 'HTTPRouteInvalidParentRefNotMatchingSectionName', go: 'httproute-invalid-parentref-not-matching-section-name.go', manifest: 'httproute-invalid-parentref-not-matching-section-name.yaml',
    routeStatus: [{ route: infraRoute('httproute-listener-not-matching-section-name'), gateway: SAME_NAMESPACE, conditions: [['Accepted', 'False', 'NoMatchingParent']] }],
    attachedRoutes: [{ gateway: SAME_NAMESPACE, listeners: { http: 0 } }],
  },
  {
    name: 'HTTPRouteRedirectHostAndStatus', go: 'httproute-redirect-host-and-status.go', manifest: 'httproute-redirect-host-and-status.yaml', accepted: [infraRoute('redirect-host-and-status')],
    expectations: [
      { request: r('/hostname-redirect'), status: [302], redirect: { host: 'example.org' } },
      { request: r('/host-and-status'), status: [301], redirect: { host: 'example.org' } },
    ],
  },
  {
    name: 'HTTPRouteRequestHeaderModifier', go: 'httproute-request-header-modifier.go', manifest: 'httproute-request-header-modifier.yaml', accepted: [infraRoute('request-header-modifier')],
    expectations: headerModifierTable(V1).map((e) => ({ ...e, request: { ...e.request, host: undefined }, requestPath: e.request.path, namespace: INFRA_NS })),
  },
  {
    name: 'HTTPRouteWeight', go: 'httproute-weight.go', manifest: 'httproute-weight.yaml', accepted: [infraRoute('weighted-backends')],
    expectations: [{ request: r('/'), status: [200], namespace: INFRA_NS }], weights: { [V1]: 0.7, [V2]: 0.3, [V3]: 0 },
  },
  {
    name: 'HTTPRouteMultipleGateways', go: 'httproute-multiple-gateways.go', manifest: 'httproute-multiple-gateways.yaml',
    accepted: [infraRoute('multiple-gateways-shared-route'), infraRoute('same-namespace-dedicated-route')],
    routeStatus: [
      { route: infraRoute('multiple-gateways-shared-route'), gateway: ALL_NAMESPACES, conditions: [accepted] },
      { route: infraRoute('all-namespaces-dedicated-route'), gateway: ALL_NAMESPACES, conditions: [accepted] },
    ],
    expectations: [
      { ...infra(r('/shared'), V1), status: [200] }, { ...infra(r('/'), V2), status: [200] },
      on(ALL_NAMESPACES, { ...infra(r('/shared'), V1), status: [200] }), on(ALL_NAMESPACES, { ...infra(r('/'), V3), status: [200] }),
    ],
  },
  {
    name: 'HTTPRouteHTTPSListener', go: 'httproute-https-listener.go', manifest: 'httproute-https-listener.yaml', gateway: HTTPS_GATEWAY,
    accepted: [infraRoute('httproute-https-test'), infraRoute('httproute-https-test-no-hostname')],
    expectations: [
      { request: at('example.org'), https: true, status: [200], backend: V1, namespace: INFRA_NS },
      { request: at('unknown-example.org'), https: true, status: [404] },
      { request: at('second-example.org'), https: true, status: [200], backend: V2, namespace: INFRA_NS },
    ],
  },
  {
    name: 'HTTPRouteServiceTypes', go: 'httproute-service-types.go', manifest: 'httproute-service-types.yaml', accepted: [infraRoute('service-types')],
    prepare: serviceTypesEndpoints,
    expectations: ['manual-endpointslices', 'headless-manual-endpointslices', 'headless'].map((p) => ({ ...infra(r(`/${p}`), V1), status: [200] })),
  },
];
