/**
 * The API resources the Kubernetes source watches: the same kinds, at the
 * same apiVersions, as the file source reads (model/kinds/registry.ts), so a
 * folder that works locally applies to a cluster unchanged.
 *
 * `intent` kinds are the operator's routing and access intents: Trellis
 * writes their status (Accepted, ResolvedRefs, Programmed) and never reads
 * it back as input. `routeParents`: a Gateway API route, whose status is a
 * list of parents, each written by the controller responsible for it
 * (status-writer.ts writes only the entries of the parents Trellis serves).
 *
 * The Gateway API kinds are watched at one served version each (the API server
 * converts); their CRDs are the official ones in deploy/crds/gateway-api.
 */
export interface KubeResource {
  apiVersion: string;
  kind: string;
  /** Lower-case plural: the URL segment. */
  plural: string;
  namespaced: boolean;
  intent: boolean;
  /** Defined by a CRD, which may not be installed (then the kind is treated as empty). */
  custom: boolean;
  routeParents?: true;
  /** Watch only the objects the API server selects by field (`type=kubernetes.io/tls` for Secrets). */
  fieldSelector?: string;
}

const GATEWAY = 'gateway.networking.k8s.io';

export const WATCHED: readonly KubeResource[] = [
  { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false, intent: false, custom: false },
  { apiVersion: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', namespaced: true, intent: false, custom: false },
  { apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true, intent: false, custom: false },
  { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true, intent: false, custom: false },
  { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', plural: 'endpointslices', namespaced: true, intent: false, custom: false },
  // Gateway HTTPS certificates (certificateRefs): only TLS Secrets are listed and held, none of any other type.
  { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true, intent: false, custom: false, fieldSelector: 'type=kubernetes.io/tls' },
  { apiVersion: 'specs.smi-spec.io/v1alpha4', kind: 'HTTPRouteGroup', plural: 'httproutegroups', namespaced: true, intent: true, custom: true },
  { apiVersion: 'specs.smi-spec.io/v1alpha4', kind: 'TCPRoute', plural: 'tcproutes', namespaced: true, intent: true, custom: true },
  { apiVersion: 'split.smi-spec.io/v1alpha4', kind: 'TrafficSplit', plural: 'trafficsplits', namespaced: true, intent: true, custom: true },
  { apiVersion: 'access.smi-spec.io/v1alpha3', kind: 'TrafficTarget', plural: 'traffictargets', namespaced: true, intent: true, custom: true },
  { apiVersion: 'trellis.io/v1alpha1', kind: 'TrafficPolicy', plural: 'trafficpolicies', namespaced: true, intent: true, custom: true },
  { apiVersion: 'trellis.io/v1alpha1', kind: 'RequestAuthentication', plural: 'requestauthentications', namespaced: true, intent: true, custom: true },
  { apiVersion: 'trellis.io/v1alpha1', kind: 'MeshConfig', plural: 'meshconfigs', namespaced: false, intent: true, custom: true },
  { apiVersion: 'trellis.io/v1alpha1', kind: 'ExternalService', plural: 'externalservices', namespaced: true, intent: true, custom: true },
  { apiVersion: 'trellis.io/v1alpha1', kind: 'MTLSPolicy', plural: 'mtlspolicies', namespaced: true, intent: true, custom: true },
  { apiVersion: 'trellis.io/v1alpha1', kind: 'Rollout', plural: 'rollouts', namespaced: true, intent: true, custom: true },
  { apiVersion: `${GATEWAY}/v1`, kind: 'GatewayClass', plural: 'gatewayclasses', namespaced: false, intent: false, custom: true },
  { apiVersion: `${GATEWAY}/v1`, kind: 'Gateway', plural: 'gateways', namespaced: true, intent: false, custom: true },
  { apiVersion: `${GATEWAY}/v1`, kind: 'HTTPRoute', plural: 'httproutes', namespaced: true, intent: true, custom: true, routeParents: true },
  { apiVersion: `${GATEWAY}/v1`, kind: 'GRPCRoute', plural: 'grpcroutes', namespaced: true, intent: true, custom: true, routeParents: true },
  { apiVersion: `${GATEWAY}/v1`, kind: 'TLSRoute', plural: 'tlsroutes', namespaced: true, intent: true, custom: true, routeParents: true },
  { apiVersion: `${GATEWAY}/v1`, kind: 'TCPRoute', plural: 'tcproutes', namespaced: true, intent: true, custom: true, routeParents: true },
  { apiVersion: `${GATEWAY}/v1beta1`, kind: 'ReferenceGrant', plural: 'referencegrants', namespaced: true, intent: false, custom: true },
  { apiVersion: `${GATEWAY}/v1`, kind: 'BackendTLSPolicy', plural: 'backendtlspolicies', namespaced: true, intent: false, custom: true },
];

/**
 * A kind with its API group (`TCPRoute.gateway.networking.k8s.io`; a core
 * kind alone: `Pod`): what tells two watched resources apart, since SMI's
 * TCPRoute and the Gateway API's share a kind name.
 */
export function groupKind(apiVersion: string, kind: string): string {
  const slash = apiVersion.lastIndexOf('/');
  return slash > 0 ? `${kind}.${apiVersion.slice(0, slash)}` : kind;
}

export function resourceOf(apiVersion: string, kind: string): KubeResource | undefined {
  return WATCHED.find((r) => r.apiVersion === apiVersion && r.kind === kind);
}

/** `/api/v1/pods`, `/apis/trellis.io/v1alpha1/namespaces/demo/trafficpolicies/x`... */
export function collectionPath(r: KubeResource, namespace?: string): string {
  const base = r.apiVersion.includes('/') ? `/apis/${r.apiVersion}` : `/api/${r.apiVersion}`;
  return `${base}${r.namespaced && namespace ? `/namespaces/${namespace}` : ''}/${r.plural}`;
}

export function objectPath(r: KubeResource, namespace: string | undefined, name: string): string {
  return `${collectionPath(r, namespace)}/${encodeURIComponent(name)}`;
}

/** The label that opts a namespace into the mesh. */
export const MESH_LABEL = 'trellis.io/mesh';
export const DEFAULT_NAMESPACE_SELECTOR = `${MESH_LABEL}=enabled`;
