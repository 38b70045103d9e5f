/**
 * objects -> mesh model + a status per object. Pure: no I/O, clock or
 * randomness; input objects are never mutated; never throws on operator input.
 *
 * Order: decode every object (schema), reject duplicates, then run the
 * processors in dependency order — mesh settings, workloads, services and
 * endpoints, identities, route groups, then the intents that refer to them.
 * A processor leaves out any object with an error, records why, and carries on.
 */
import type { SourceObject } from './object.ts';
import type { KindSpec } from './kinds/kind.ts';
import { decodeObjectOnce } from './kinds/decode-cache.ts';
import { namespaceKind, serviceAccountKind } from './kinds/core-names.ts';
import { endpointSliceKind } from './kinds/endpoint-slice.ts';
import { externalServiceKind } from './kinds/external-service.ts';
import { backendTlsPolicyKind, gatewayClassKind, gatewayKind, tcpRouteKind as gatewayTcpRouteKind, tlsRouteKind } from './kinds/gateway-kinds.ts';
import { grpcRouteKind } from './kinds/grpc-route.ts';
import { httpRouteKind } from './kinds/http-route.ts';
import { referenceGrantKind } from './kinds/reference-grant.ts';
import { secretKind } from './kinds/secret.ts';
import { httpRouteGroupKind } from './kinds/http-route-group.ts';
import { meshConfigKind } from './kinds/mesh-config.ts';
import { mtlsPolicyKind } from './kinds/mtls-policy.ts';
import { podKind } from './kinds/pod.ts';
import { lookupKind, unsupportedKind } from './kinds/registry.ts';
import { serviceKind } from './kinds/service.ts';
import { requestAuthenticationKind } from './kinds/request-authentication.ts';
import { rolloutKind } from './kinds/rollout.ts';
import { tcpRouteKind } from './kinds/tcp-route.ts';
import { trafficPolicyKind } from './kinds/traffic-policy.ts';
import { trafficSplitKind } from './kinds/traffic-split.ts';
import { trafficTargetKind } from './kinds/traffic-target.ts';
import type { ObjectStatus, ParentRef } from './problem.ts';
import { isServiceParent } from './kinds/gateway-common.ts';
import { accessByDestination, resolveAccess } from './resolve/access.ts';
import { resolveAuthentications, withAuthentication } from './resolve/authentication.ts';
import { checkAddressClaims } from './resolve/address-claims.ts';
import { Book, objectId, objectKey, sortedMap, type Entry } from './resolve/book.ts';
import { Incumbents, type AcceptedInputs } from './resolve/incumbents.ts';
import { resolveExternalServices } from './resolve/external.ts';
import { resolveMesh } from './resolve/mesh.ts';
import { withServerLimits } from './resolve/server-limits.ts';
import { resolveMtls } from './resolve/mtls.ts';
import { checkGatewayKinds } from './resolve/gateway-status.ts';
import { withGatewayAuthentication } from './resolve/gateway-authentication.ts';
import { GatewayIndex, withGatewayStatus } from './resolve/gateways.ts';
import { parentRefsOf, resolveMeshRoutes, warnShadowedSplits } from './resolve/mesh-routes.ts';
import { resolveStreamRoutes } from './resolve/stream-routes.ts';
import { clusterPolicies, portKey, portPolicies, resolvePolicies } from './resolve/policies.ts';
import { resolveRollouts } from './resolve/rollouts.ts';
import { resolveRouteGroups } from './resolve/routes.ts';
import { resolveServices } from './resolve/services.ts';
import { resolveSplits, splitsByService } from './resolve/splits.ts';
import { resolveTcpRoutes } from './resolve/tcp-routes.ts';
import { finishWorkloads, resolveIdentities, resolvePods } from './resolve/workloads.ts';
import { shareUnchanged } from './share.ts';
import { toStatusOnce } from './status.ts';
import type { MeshModel, MeshService, ObjectKey, RequestAuthn, RolloutWeight } from './types.ts';

export interface BuildResult {
  model: MeshModel;
  /** One per input object, sorted by kind, namespace, name. */
  statuses: ObjectStatus[];
  /**
   * The version of each object that is in the model, by `objectIdOf`: what
   * `buildMeshKeepingLastGood` needs from this build to protect the next one.
   */
  accepted: ReadonlyMap<string, SourceObject>;
}

/** `Kind.group/namespace/name` after namespace defaulting: the identity of an object across versions (book.ts objectId). */
export function objectIdOf(obj: SourceObject): string {
  return objectId(obj.apiVersion, obj.kind, namespaceOf(obj), obj.metadata.name);
}

function namespaceOf(obj: SourceObject, spec = lookupKind(obj.apiVersion, obj.kind)): string {
  // Unsupported kinds: their scope is unknown, so the namespace is shown as written.
  if (!spec) return obj.metadata.namespace ?? '';
  return spec.namespaced ? (obj.metadata.namespace ?? 'default') : '';
}

interface InputRecord {
  obj: SourceObject;
  /** Unique per input object (duplicates share an objectId, not a ref). */
  ref: string;
  objectId: string;
  namespace: string;
  spec?: KindSpec<unknown>;
  entry?: Entry<unknown>;
}

export interface BuildOptions {
  /**
   * What the previous build accepted (its `accepted`), if any. It settles the
   * conflicts an order of names must not (resolve/incumbents.ts): the
   * MeshConfig that configures the mesh keeps it; a TrafficSplit that closes
   * a cycle is rejected, not the ones that were there.
   */
  previous?: AcceptedInputs;
  /** The trust domain the running control plane issues identities in: a MeshConfig naming another is refused (resolve/mesh.ts). */
  runningTrustDomain?: string;
  /**
   * The canary weights the rollout controller has set, by Rollout key
   * (resolve/rollouts.ts): an input like the objects, persisted by the
   * runtime, so a restart mid-rollout builds what the running one served.
   */
  rolloutProgress?: ReadonlyMap<ObjectKey, RolloutWeight>;
  /**
   * The model published before, if any: the new model reuses its object for
   * every entity whose content is unchanged (share.ts), so what reads the
   * model once per object does not read the unchanged ones again.
   */
  previousModel?: MeshModel;
}

export function buildMesh(objects: readonly SourceObject[], options: BuildOptions = {}): BuildResult {
  const book = new Book();
  const incumbents = new Incumbents(options.previous);
  const records: InputRecord[] = objects.map((obj, i) => {
    const spec = lookupKind(obj.apiVersion, obj.kind);
    const namespace = namespaceOf(obj, spec);
    return { obj, ref: `#${i}`, objectId: objectId(obj.apiVersion, obj.kind, namespace, obj.metadata.name), namespace, spec };
  });

  const byId = new Map<string, InputRecord[]>();
  for (const r of records) {
    if (!r.spec) book.add(r.ref, unsupportedKind(r.obj.apiVersion, r.obj.kind));
    else {
      const group = byId.get(r.objectId);
      if (group) group.push(r);
      else byId.set(r.objectId, [r]);
    }
  }
  for (const group of byId.values()) {
    if (group.length < 2) continue;
    for (const r of group) {
      const others = group.filter((o) => o !== r).map((o) => (o.obj.origin.source === 'file' ? `${o.obj.origin.file}:${o.obj.origin.line}` : 'another source'));
      book.add(r.ref, {
        severity: 'error', reason: 'Duplicate', field: 'metadata.name',
        message: `${r.obj.kind} "${r.obj.metadata.name}" is also defined at ${others.join(', ')}; each object may be defined once. Remove or rename one`,
      });
    }
  }

  // By KindSpec, not by kind name: SMI's TCPRoute and the Gateway API's share one.
  const byKind = new Map<KindSpec<unknown>, Entry<unknown>[]>();
  for (const r of records) {
    if (!r.spec || book.rejected({ id: r.ref })) continue;
    const name = r.obj.metadata.name;
    const result = decodeObjectOnce(r.spec, r.obj, { namespace: r.namespace, name });
    for (const p of result.problems) book.add(r.ref, p);
    // An invalid object with a partial spec joins its kind's list already rejected: processors
    // check its references (to report them too) but never put it in the model.
    const spec = result.ok ? result.value : result.partial;
    if (spec === undefined) continue;
    const entry: Entry<unknown> = { obj: r.obj, kind: r.spec.kind, namespace: r.namespace, name, key: objectKey(r.namespace, name), id: r.ref, spec };
    r.entry = entry;
    const list = byKind.get(r.spec);
    if (list) list.push(entry);
    else byKind.set(r.spec, [entry]);
  }
  const of = <T>(k: KindSpec<T>): Entry<T>[] => (byKind.get(k as KindSpec<unknown>) ?? []) as Entry<T>[];

  const mesh = resolveMesh(of(meshConfigKind), book, incumbents, options.runningTrustDomain);
  const drafts = resolvePods(of(podKind), mesh, book);
  checkAddressClaims(of(serviceKind), book, incumbents);
  const svc = resolveServices(of(serviceKind), of(endpointSliceKind), drafts, book);
  const mtlsOf = resolveMtls(of(mtlsPolicyKind), drafts, svc.services, svc.servicesOf, mesh, book);
  const served = finishWorkloads(drafts, svc.services, svc.servicesOf, svc.zoneOf, mtlsOf);
  const identities = resolveIdentities(of(serviceAccountKind), served, svc.servicesByIdentity, mesh, book);
  const authentications = resolveAuthentications(of(requestAuthenticationKind), svc.services, identities, mesh, book);
  const finished = withAuthentication(served, authentications);
  const routeGroups = resolveRouteGroups(of(httpRouteGroupKind), book);
  const driven = resolveRollouts({ rollouts: of(rolloutKind), services: svc.services, splits: of(trafficSplitKind), httpRoutes: of(httpRouteKind), progress: options.rolloutProgress }, book, incumbents);
  const splits = resolveSplits(driven.splits, svc.services, routeGroups, book, incumbents);
  const tcpRoutes = resolveTcpRoutes(of(tcpRouteKind), book);
  const accessRules = resolveAccess(of(trafficTargetKind), identities, routeGroups, tcpRoutes, mesh, book);
  const policies = resolvePolicies(of(trafficPolicyKind), svc.services, routeGroups, book, mesh);
  const externalServices = resolveExternalServices(of(externalServiceKind), svc.services, identities, mesh, book);
  const gatewayInputs = { gatewayClasses: of(gatewayClassKind), gateways: of(gatewayKind), referenceGrants: of(referenceGrantKind) };
  const namespaceLabels = new Map(of(namespaceKind).map((e) => [e.name, e.obj.metadata.labels]));
  const index = new GatewayIndex({ ...gatewayInputs, secrets: of(secretKind), namespaceLabels, trustDomain: mesh.trustDomain }, book);
  const routesByService = resolveMeshRoutes([...driven.httpRoutes, ...of(grpcRouteKind)], svc.services, { ...gatewayInputs, index }, book);
  warnShadowedSplits(driven.splits, splits, routesByService, svc.services, book);
  const tcpRoutesByPort = resolveStreamRoutes([...of(gatewayTcpRouteKind), ...of(tlsRouteKind)], svc.services, { ...gatewayInputs, index }, book);
  const ours = (p: ParentRef) => isServiceParent(p) || index.ours(p);
  checkGatewayKinds({ ...gatewayInputs, backendTlsPolicies: of(backendTlsPolicyKind) }, book);
  const finishedGateways = index.finish();
  const gatewayAuthn = withGatewayAuthentication(of(requestAuthenticationKind), finishedGateways.gateways, book);
  const gateways = { ...finishedGateways, gateways: gatewayAuthn.gateways };

  const splitOrder = splitsByService(splits);
  const own = portPolicies(svc.services, policies);
  const ofCluster = clusterPolicies(own, splits, new Map([...svc.services].map(([k, s]) => [k, { ports: s.ports, routes: routesByService.get(k) ?? [] }])));
  const workloads = withServerLimits(finished, own, [...identities.keys()].toSorted());
  const services = sortedMap(
    [...svc.services].map(([key, s]): [ObjectKey, MeshService] => [
      key,
      {
        ...s,
        ports: s.ports.map((p) => {
          const policy = own.get(portKey(key, p.port));
          const clusterPolicy = ofCluster.get(portKey(key, p.port));
          const tcpRoute = tcpRoutesByPort.get(portKey(key, p.port));
          return policy || clusterPolicy || tcpRoute ? { ...p, ...(policy ? { policy } : {}), ...(clusterPolicy ? { clusterPolicy } : {}), ...(tcpRoute ? { tcpRoute } : {}) } : p;
        }),
        splits: splitOrder.get(key) ?? [],
        routes: routesByService.get(key) ?? [],
      },
    ]),
  );

  const accepted = new Map<string, SourceObject>();
  const namespaces = new Set<string>();
  for (const r of records) {
    if (!r.entry || book.rejected(r.entry)) continue;
    accepted.set(r.objectId, r.obj);
    if (r.entry.kind === namespaceKind.kind) namespaces.add(r.entry.name);
    else if (r.namespace !== '') namespaces.add(r.namespace);
  }

  const model: MeshModel = {
    mesh,
    services,
    workloads,
    identities,
    routeGroups,
    splits,
    accessRules,
    accessByDestination: accessByDestination(accessRules),
    policies,
    authentications: gatewayAuthn.accepted.length ? sortedMap([...authentications, ...gatewayAuthn.accepted.map((a): [ObjectKey, RequestAuthn] => [a.key, a])]) : authentications,
    namespaces: [...namespaces].toSorted(),
    externalServices,
    gateways: gateways.gateways,
    rollouts: driven.rollouts,
  };
  const statuses = records
    .map((r) => withGatewayStatus(toStatusOnce({ ...r, parents: parentRefsOf(r.entry?.spec), ours }, book.of(r.ref)), r.ref, gateways, r.entry))
    .toSorted((a, b) => compare(a.kind, b.kind) || compare(a.namespace, b.namespace) || compare(a.name, b.name) || compare(a.origin?.file ?? '', b.origin?.file ?? '') || (a.origin?.line ?? 0) - (b.origin?.line ?? 0));
  return { model: shareUnchanged(model, options.previousModel), statuses, accepted };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
