/**
 * The kinds Trellis reads, by apiVersion and kind. Adding a kind is a new file
 * in this folder plus one line here (and a processor in resolve/).
 */
import type { FieldProblem } from '../problem.ts';
import { didYouMean } from '../suggest.ts';
import { namespaceKind, serviceAccountKind } from './core-names.ts';
import { endpointSliceKind } from './endpoint-slice.ts';
import { externalServiceKind } from './external-service.ts';
import { backendTlsPolicyKind, gatewayClassKind, gatewayKind, tcpRouteKind as gatewayTcpRouteKind, tlsRouteKind } from './gateway-kinds.ts';
import { grpcRouteKind } from './grpc-route.ts';
import { httpRouteKind } from './http-route.ts';
import { httpRouteGroupKind } from './http-route-group.ts';
import type { KindSpec } from './kind.ts';
import { meshConfigKind } from './mesh-config.ts';
import { mtlsPolicyKind } from './mtls-policy.ts';
import { podKind } from './pod.ts';
import { requestAuthenticationKind } from './request-authentication.ts';
import { referenceGrantKind } from './reference-grant.ts';
import { secretKind } from './secret.ts';
import { serviceKind } from './service.ts';
import { tcpRouteKind } from './tcp-route.ts';
import { trafficPolicyKind } from './traffic-policy.ts';
import { trafficSplitKind } from './traffic-split.ts';
import { trafficTargetKind } from './traffic-target.ts';

export const KINDS: readonly KindSpec<unknown>[] = [
  namespaceKind,
  serviceAccountKind,
  serviceKind,
  podKind,
  endpointSliceKind,
  httpRouteGroupKind,
  tcpRouteKind,
  trafficSplitKind,
  trafficTargetKind,
  trafficPolicyKind,
  requestAuthenticationKind,
  meshConfigKind,
  mtlsPolicyKind,
  externalServiceKind,
  gatewayClassKind,
  gatewayKind,
  httpRouteKind,
  grpcRouteKind,
  referenceGrantKind,
  backendTlsPolicyKind,
  tlsRouteKind,
  gatewayTcpRouteKind,
  secretKind,
] as readonly KindSpec<unknown>[];

const BY_TYPE = new Map(KINDS.flatMap((k) => [k.apiVersion, ...(k.alsoServed ?? [])].map((v) => [`${v} ${k.kind}`, k] as const)));

export function supportedKinds(): string {
  return KINDS.map((k) => `${k.apiVersion} ${k.kind}`).join(', ');
}

export function lookupKind(apiVersion: string, kind: string): KindSpec<unknown> | undefined {
  return BY_TYPE.get(`${apiVersion} ${kind}`);
}

/** API groups whose objects are intents for the mesh: an unknown kind there is surely a mistake. */
const MESH_GROUPS = ['smi-spec.io', 'trellis.io', 'gateway.networking.k8s.io'];

/**
 * Why an object of an unsupported type is not read. A wrong version of a
 * supported kind, anything in a mesh API group, and near-misses of supported
 * kind names are errors; other kinds (a Deployment or ConfigMap kept in the
 * same folder) are warnings, since they are legitimately ignored.
 */
export function unsupportedKind(apiVersion: string, kind: string): FieldProblem {
  const sameKind = KINDS.find((k) => k.kind === kind);
  if (sameKind) {
    return {
      severity: 'error', reason: 'UnsupportedKind', field: 'apiVersion',
      message: `${kind} is read as apiVersion ${[sameKind.apiVersion, ...(sameKind.alsoServed ?? [])].map((v) => `"${v}"`).join(' or ')}, not "${apiVersion}"; change apiVersion to ${sameKind.apiVersion}`,
    };
  }
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  const hint = didYouMean(kind, KINDS.map((k) => k.kind));
  const meshGroup = MESH_GROUPS.some((g) => group === g || group.endsWith(`.${g}`));
  if (hint !== '' || meshGroup) {
    return {
      severity: 'error', reason: 'UnsupportedKind', field: 'kind',
      message: `${apiVersion} ${kind} is not a kind Trellis reads.${hint} Supported: ${supportedKinds()}`,
    };
  }
  return {
    severity: 'warning', reason: 'UnsupportedKind', field: 'kind',
    message: `${apiVersion} ${kind} is ignored: Trellis reads only ${supportedKinds()}`,
  };
}
