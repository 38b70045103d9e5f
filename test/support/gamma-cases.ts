/**
 * The MESH conformance cases of sigs.k8s.io/gateway-api/conformance v1.6.3,
 * their expectation tables transcribed from the .go file each cites
 * (tests/mesh/<file>.go, `http.ExpectedResponse` literals), and their
 * manifests read from the module at run time (tests/mesh/<file>.yaml).
 *
 * What is checked is what the suite's mesh client checks
 * (conformance/utils/echo/pod.go compareRequest): the status code, the
 * request headers the backend saw (values joined by ","), absent request
 * headers, response headers and absent ones, and that the answering pod's
 * name starts with `Backend`. In addition, where the .go states it, the path
 * the backend saw (ExpectedRequest.Path) and the redirect's Location
 * (RedirectRequest: scheme, host, port, path), as the gateway suite's
 * round-tripper compares them; the mesh client skips both.
 */
import { CONSUMER_NS, MESH_NS } from './gamma-mesh.ts';

export interface Expectation {
  name?: string;
  /** The calling pod (echo.ConnectToApp): namespace and labels; default the echo v1 pod of the mesh namespace. */
  from?: { namespace: string; labels: string };
  /** Host defaults to "echo", method to GET (pod.go makeRequest). */
  request: { host?: string; path?: string; method?: string; headers?: Record<string, string> };
  /** Default [200]. */
  status?: number[];
  backend?: string;
  /** The answering pod's namespace (ExpectedResponse.Namespace; the gateway suite's round-tripper compares it with Backend). */
  namespace?: string;
  requestPath?: string;
  requestHeaders?: Record<string, string>;
  absentRequestHeaders?: string[];
  responseHeaders?: Record<string, string>;
  absentResponseHeaders?: string[];
  redirect?: { scheme?: string; host?: string; port?: string; path?: string };
}

export interface MeshCase {
  name: string;
  /** tests/mesh/<go> */
  go: string;
  /** tests/mesh/<manifest>, if any */
  manifest?: string;
  expectations?: Expectation[];
  /** MeshHTTPRouteWeight: the share of requests each backend must get (±5 points over 500, as weight.go). */
  weights?: Record<string, number>;
  /** The requests are gRPC calls (Protocol "grpc") to this authority. */
  grpc?: { authority: string };
  /** Why Trellis does not pass the case (shown in the table); the case is still run and must fail the way stated. */
  unsupported?: string;
  /** With `unsupported`: the expectations (by name) that fail; every other one must pass. */
  failing?: string[];
  /** The case's features beyond SupportMesh and SupportHTTPRoute (the .go's Features), `Support` left off. */
  features?: string;
  /**
   * It needs routing by the address connected to (a pod's IP, a ClusterIP):
   * run with transparent-mode sidecars in network namespaces by
   * test/e2e/gateway-api-mesh-transparent.test.ts, not by the explicit-mode run.
   */
  transparent?: true;
}

const V1 = 'echo-v1';
const V2 = 'echo-v2';
const r = (path: string, headers?: Record<string, string>) => ({ path, ...(headers ? { headers } : {}) });

/** httproute-request-header-modifier.go's table, answered by `backend` (the gateway cases use it too). */
export const headerModifierTable = (backend: string): Expectation[] => [
  { request: r('/set', { 'Some-Other-Header': 'val' }), requestHeaders: { 'Some-Other-Header': 'val', 'X-Header-Set': 'set-overwrites-values' }, backend },
  { request: r('/set', { 'Some-Other-Header': 'val', 'X-Header-Set': 'some-other-value' }), requestHeaders: { 'Some-Other-Header': 'val', 'X-Header-Set': 'set-overwrites-values' }, backend },
  { request: r('/add', { 'Some-Other-Header': 'val' }), requestHeaders: { 'Some-Other-Header': 'val', 'X-Header-Add': 'add-appends-values' }, backend },
  { request: r('/add', { 'Some-Other-Header': 'val', 'X-Header-Add': 'some-other-value' }), requestHeaders: { 'Some-Other-Header': 'val', 'X-Header-Add': 'some-other-value,add-appends-values' }, backend },
  { request: r('/remove', { 'X-Header-Remove': 'val' }), absentRequestHeaders: ['X-Header-Remove'], backend },
  {
    request: r('/multiple', { 'X-Header-Set-2': 'set-val-2', 'X-Header-Add-2': 'add-val-2', 'X-Header-Remove-2': 'remove-val-2', 'Another-Header': 'another-header-val' }),
    requestHeaders: { 'X-Header-Set-1': 'header-set-1', 'X-Header-Set-2': 'header-set-2', 'X-Header-Add-1': 'header-add-1', 'X-Header-Add-2': 'add-val-2,header-add-2', 'X-Header-Add-3': 'header-add-3', 'Another-Header': 'another-header-val' },
    absentRequestHeaders: ['X-Header-Remove-1', 'X-Header-Remove-2'], backend,
  },
  {
    request: r('/case-insensitivity', { 'x-header-set': 'original-val-set', 'x-header-add': 'original-val-add', 'x-header-remove': 'original-val-remove', 'Another-Header': 'another-header-val' }),
    requestHeaders: { 'X-Header-Set': 'header-set', 'X-Header-Add': 'original-val-add,header-add', 'Another-Header': 'another-header-val' },
    absentRequestHeaders: ['x-header-remove', 'X-Header-Remove'], backend,
  },
];

const redirect = (path: string, status: number, location: Expectation['redirect']): Expectation => ({ request: { host: 'echo', path }, status: [status], redirect: location });

export const MESH_CASES: MeshCase[] = [
  { name: 'MeshBasic', go: 'mesh-basic.go', expectations: [{ request: { host: 'echo', method: 'GET' } }] },
  { name: 'MeshHTTPRouteSimpleSameNamespace', go: 'httproute-simple-same-namespace.go', manifest: 'httproute-simple-same-namespace.yaml', expectations: [{ request: { path: '/', host: 'echo' }, backend: V1 }] },
  {
    name: 'MeshHTTPRouteMatching', go: 'httproute-matching.go', manifest: 'httproute-matching.yaml',
    expectations: [
      { request: r('/'), backend: V1 }, { request: r('/example'), backend: V1 }, { request: r('/', { Version: 'one' }), backend: V1 },
      { request: r('/v2'), backend: V2 }, { request: r('/v2/example'), backend: V2 }, { request: r('/', { Version: 'two' }), backend: V2 },
      { request: r('/v2/'), backend: V2 }, { request: r('/v2example'), backend: V1 }, { request: r('/foo/v2/example'), backend: V1 },
    ],
  },
  { name: 'MeshHTTPRouteWeight', go: 'httproute-weight.go', manifest: 'httproute-weight.yaml', expectations: [{ request: { path: '/', host: 'echo' } }], weights: { [V1]: 0.7, [V2]: 0.3 } },
  { name: 'MeshTrafficSplit', go: 'mesh-split.go', manifest: 'mesh-split.yaml', expectations: [{ request: { host: 'echo', method: 'GET', path: '/v1' }, backend: V1 }, { request: { host: 'echo', method: 'GET', path: '/v2' }, backend: V2 }] },
  {
    name: 'MeshHTTPRouteRedirectHostAndStatus', go: 'httproute-redirect-host-and-status.go', manifest: 'httproute-redirect-host-and-status.yaml',
    expectations: [redirect('/hostname-redirect', 302, { host: 'example.org' }), redirect('/host-and-status', 301, { host: 'example.org' })],
  },
  { name: 'MeshHTTPRouteRequestHeaderModifier', go: 'httproute-request-header-modifier.go', manifest: 'httproute-request-header-modifier.yaml', expectations: headerModifierTable(V1) },
  { name: 'MeshHTTPRouteBackendRequestHeaderModifier', go: 'httproute-request-header-modifier.go', manifest: 'httproute-request-header-modifier-backend.yaml', expectations: headerModifierTable(V1), features: 'MeshHTTPRouteBackendRequestHeaderModification' },
  {
    name: 'MeshHTTPRouteQueryParamMatching', go: 'httproute-query-param-matching.go', manifest: 'httproute-query-param-matching.yaml', features: 'MeshHTTPRouteQueryParamMatching',
    expectations: [
      { request: r('/?animal=whale'), backend: V1 }, { request: r('/?animal=dolphin'), backend: V2 },
      { request: r('/?animal=whale&otherparam=irrelevant'), backend: V1 }, { request: r('/?animal=dolphin&color=yellow'), backend: V2 },
      { request: r('/?color=blue'), status: [404] }, { request: r('/?animal=dog'), status: [404] }, { request: r('/?animal=whaledolphin'), status: [404] }, { request: r('/'), status: [404] },
      { request: r('/path1?animal=whale'), backend: V1 }, { request: r('/?animal=whale', { version: 'one' }), backend: V2 },
      { request: r('/path3?animal=shark'), backend: V1 }, { request: r('/path4?animal=kraken', { version: 'three' }), backend: V1 },
      { request: r('/?animal=shark'), status: [404] }, { request: r('/path4?animal=kraken'), status: [404] },
      { request: r('/path5?animal=hydra'), backend: V1 },
    ],
  },
  {
    name: 'MeshHTTPRouteRewritePath', go: 'httproute-rewrite-path.go', manifest: 'httproute-rewrite-path.yaml', features: 'MeshHTTPRouteRewritePath',
    expectations: [
      { request: { host: 'echo', path: '/prefix/one/two' }, requestPath: '/one/two', backend: V1 },
      { request: { host: 'echo', path: '/strip-prefix/three' }, requestPath: '/three', backend: V1 },
      { request: { host: 'echo', path: '/strip-prefix' }, requestPath: '/', backend: V1 },
      { request: { host: 'echo', path: '/full/one/two' }, requestPath: '/one', backend: V1 },
      {
        request: { host: 'echo', path: '/full/rewrite-path-and-modify-headers/test', headers: { 'X-Header-Remove': 'remove-val', 'X-Header-Add-Append': 'append-val-1', 'X-Header-Set': 'set-val' } },
        requestPath: '/test', requestHeaders: { 'X-Header-Add': 'header-val-1', 'X-Header-Add-Append': 'append-val-1,header-val-2', 'X-Header-Set': 'set-overwrites-values' }, absentRequestHeaders: ['X-Header-Remove'], backend: V1,
      },
      {
        request: { host: 'echo', path: '/prefix/rewrite-path-and-modify-headers/one', headers: { 'X-Header-Remove': 'remove-val', 'X-Header-Add-Append': 'append-val-1', 'X-Header-Set': 'set-val' } },
        requestPath: '/prefix/one', requestHeaders: { 'X-Header-Add': 'header-val-1', 'X-Header-Add-Append': 'append-val-1,header-val-2', 'X-Header-Set': 'set-overwrites-values' }, absentRequestHeaders: ['X-Header-Remove'], backend: V1,
      },
    ],
  },
  {
    name: 'MeshHTTPRouteRedirectPath', go: 'httproute-redirect-path.go', manifest: 'httproute-redirect-path.yaml', features: 'MeshHTTPRouteRedirectPath',
    expectations: [
      redirect('/original-prefix/lemon', 302, { path: '/replacement-prefix/lemon' }), redirect('/full/path/original', 302, { path: '/full-path-replacement' }),
      redirect('/path-and-host', 302, { host: 'example.org', path: '/replacement-prefix' }), redirect('/path-and-status', 301, { path: '/replacement-prefix' }),
      redirect('/full-path-and-host', 302, { host: 'example.org', path: '/replacement-full' }), redirect('/full-path-and-status', 301, { path: '/replacement-full' }),
    ],
  },
  {
    name: 'MeshHTTPRouteRedirectPort', go: 'httproute-redirect-port.go', manifest: 'httproute-redirect-port.yaml', features: 'MeshHTTPRouteRedirectPort',
    expectations: [
      redirect('/port', 302, { port: '8083' }), redirect('/port-and-host', 302, { host: 'example.org', port: '8083' }),
      redirect('/port-and-status', 301, { port: '8083' }), redirect('/port-and-host-and-status', 302, { port: '8083', host: 'example.org' }),
    ],
  },
  {
    name: 'MeshHTTPRouteSchemeRedirect', go: 'httproute-redirect-scheme.go', manifest: 'httproute-redirect-scheme.yaml', features: 'MeshHTTPRouteSchemeRedirect',
    expectations: [
      redirect('/scheme', 302, { scheme: 'https' }), redirect('/scheme-and-host', 302, { host: 'example.org', scheme: 'https' }),
      redirect('/scheme-and-status', 301, { scheme: 'https' }), redirect('/scheme-and-host-and-status', 302, { scheme: 'https', host: 'example.org' }),
    ],
  },
  { name: 'MeshHTTPRoute303Redirect', go: 'httproute-303-redirect.go', manifest: 'httproute-303-redirect.yaml', features: 'HTTPRoute303RedirectStatusCode', expectations: [{ request: { path: '/redirect' }, status: [303], redirect: { path: '/redirect' } }] },
  { name: 'MeshHTTPRoute307Redirect', go: 'httproute-307-redirect.go', manifest: 'httproute-307-redirect.yaml', features: 'HTTPRoute307RedirectStatusCode', expectations: [{ request: { path: '/temporary' }, status: [307], redirect: { path: '/temporary' } }] },
  { name: 'MeshHTTPRoute308Redirect', go: 'httproute-308-redirect.go', manifest: 'httproute-308-redirect.yaml', features: 'HTTPRoute308RedirectStatusCode', expectations: [{ request: { path: '/permanent' }, status: [308], redirect: { path: '/permanent' } }] },
  {
    // The .go also states ExpectedRequest.Path "/named" for the "/unnamed" request, which the mesh
    // client never compares (and a correct mesh could not satisfy): left out.
    name: 'MeshHTTPRouteNamedRule', go: 'httproute-named-rule.go', manifest: 'httproute-named-rule.yaml', features: 'MeshHTTPRouteNamedRouteRule',
    expectations: [{ request: r('/named'), backend: V1 }, { request: r('/unnamed'), backend: V2 }],
  },
  {
    name: 'MeshConsumerRoute', go: 'mesh-consumer-route.go', manifest: 'mesh-consumer-route.yaml', features: 'MeshConsumerRoute, HTTPRouteResponseHeaderModification',
    expectations: [
      { name: "request from consumer route's namespace modified by HTTPRoute", from: { namespace: CONSUMER_NS, labels: 'app=echo,version=v1' }, request: { host: `echo-v1.${MESH_NS}`, method: 'GET', path: '/' }, responseHeaders: { 'X-Header-Set': 'set' }, backend: V1 },
      { name: "request not from consumer route's namespace not modified by HTTPRoute", request: { host: `echo-v1.${MESH_NS}`, method: 'GET', path: '/' }, absentResponseHeaders: ['X-Header-Set'], backend: V1 },
    ],
  },
  {
    name: 'MeshPorts', go: 'mesh-ports.go', manifest: 'mesh-ports.yaml', features: 'HTTPRouteParentRefPort, HTTPRouteResponseHeaderModification',
    expectations: [
      { name: 'Explicit port set, send to that port', request: { host: 'echo-v1', method: 'GET' }, responseHeaders: { 'X-Header-Set': 'v1' }, backend: V1 },
      { name: 'Explicit port, send to an excluded port', request: { host: 'echo-v1:8080', method: 'GET' }, absentResponseHeaders: ['X-Header-Set'], backend: V1 },
      { name: 'No port set', request: { host: 'echo-v2', method: 'GET' }, responseHeaders: { 'X-Header-Set': 'v2' }, backend: V2 },
      { name: 'No port set (8080)', request: { host: 'echo-v2:8080', method: 'GET' }, responseHeaders: { 'X-Header-Set': 'v2' }, backend: V2 },
    ],
  },
  {
    name: 'MeshFrontend', go: 'mesh-frontend.go', manifest: 'mesh-frontend.yaml', features: 'HTTPRouteResponseHeaderModification', transparent: true,
    expectations: [
      { name: 'Send to service', request: { host: 'echo-v2', method: 'GET' }, responseHeaders: { 'X-Header-Set': 'set' }, backend: V2 },
      { name: 'Send to pod IP', request: { host: 'POD_IP:echo-v2:8080', method: 'GET' }, absentResponseHeaders: ['X-Header-Set'], backend: V2 },
    ],
  },
  {
    name: 'MeshFrontendHostname', go: 'mesh-frontend-hostname.go', manifest: 'mesh-frontend.yaml', features: 'MeshClusterIPMatching, HTTPRouteResponseHeaderModification', transparent: true,
    expectations: [
      { name: 'Send to service with wrong hostname', request: { host: 'echo-v2', headers: { Host: 'echo-v1' }, method: 'GET' }, responseHeaders: { 'X-Header-Set': 'set' }, backend: V2 },
      { name: 'Send to other service with matching hostname', request: { host: 'echo-v1', headers: { Host: 'echo-v2' }, method: 'GET' }, absentResponseHeaders: ['X-Header-Set'], backend: V1 },
    ],
  },
  {
    // The client calls GrpcEcho/Echo on echo:7070 (the suite's gRPC echo server, echo-basic with GRPC_ECHO_SERVER).
    name: 'MeshGRPCRouteWeight', go: 'grpcroute-weight.go', manifest: 'grpcroute-weight.yaml', features: 'GRPCRoute',
    grpc: { authority: 'echo:7070' }, weights: { [V1]: 0.7, [V2]: 0.3 },
  },
];
