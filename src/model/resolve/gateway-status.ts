/**
 * What Trellis does with the Gateway API kinds it does not program
 * (gateway-kinds.ts), said on each object, so none is silently ignored:
 *
 * - GatewayClass and Gateway of another controller: a warning (Ignored) that
 *   names the controller that serves them. Of Trellis's own controller
 *   (TRELLIS_CONTROLLER): accepted, and programmed (resolve/gateways.ts).
 * - TLSRoute: a Service parent is not accepted (UnsupportedValue). GAMMA
 *   has mesh TLSRoute only in the experimental channel (SNI-routed
 *   passthrough); Trellis does not route by SNI inside the mesh, and says
 *   what does work: a TCPRoute on the port splits its connections, TLS and
 *   all, by weight. (TCPRoute: mesh-tcp-routes.ts.) A Trellis Gateway
 *   parent neither (NotAllowedByListeners: its listeners serve HTTP and
 *   HTTPS); another controller's Gateway is that controller's.
 * - BackendTLSPolicy: a warning (Ignored): mesh traffic between sidecars is
 *   mTLS with workload identities, and no gateway originates TLS.
 */
import type { BackendTlsPolicySpec, GatewayClassSpec, GatewaySpec, StreamRouteSpec } from '../kinds/gateway-kinds.ts';
import { isServiceParent, TRELLIS_CONTROLLER, type ParentRefSpec } from '../kinds/gateway-common.ts';
import type { Book, Entry } from './book.ts';

export function checkGatewayKinds(
  inputs: {
    gatewayClasses: readonly Entry<GatewayClassSpec>[];
    gateways: readonly Entry<GatewaySpec>[];
    tlsRoutes: readonly Entry<StreamRouteSpec>[];
    backendTlsPolicies: readonly Entry<BackendTlsPolicySpec>[];
  },
  book: Book,
  ours: (p: ParentRefSpec) => boolean,
): void {
  for (const c of inputs.gatewayClasses) {
    if (c.spec.controllerName !== TRELLIS_CONTROLLER) book.warn(c, 'spec.controllerName', 'Ignored', `controller "${c.spec.controllerName}" serves this GatewayClass, not Trellis (${TRELLIS_CONTROLLER}); Trellis reads it only to tell which routes' parents are its own`);
  }
  for (const g of inputs.gateways) {
    const cls = inputs.gatewayClasses.find((c) => c.name === g.spec.gatewayClassName);
    if (cls?.spec.controllerName === TRELLIS_CONTROLLER) continue;
    if (cls) book.warn(g, 'spec.gatewayClassName', 'Ignored', `GatewayClass "${cls.name}" belongs to controller "${cls.spec.controllerName}", which serves this Gateway; Trellis does not`);
    else book.warn(g, 'spec.gatewayClassName', 'Ignored', `GatewayClass "${g.spec.gatewayClassName}" does not exist; whichever controller owns it serves this Gateway, not Trellis`);
  }
  for (const r of inputs.tlsRoutes) {
    r.spec.parentRefs.forEach((p, i) => {
      if (isServiceParent(p)) {
        book.add(r.id, { severity: 'error', reason: 'UnsupportedValue', field: p.path, parent: i,
          message: `a TLSRoute attached to a Service (SNI routing inside the mesh, experimental in GAMMA) is not served by Trellis: connections to the port go to the service's own endpoints, whatever their SNI. To split a TLS port's connections by weight, attach a TCPRoute to it (the TLS passes through untouched)` });
      } else if (ours(p)) {
        book.add(r.id, { severity: 'warning', reason: 'NotAllowedByListeners', field: p.path, parent: i,
          message: `Gateway "${p.namespace}/${p.name}" is Trellis's, whose listeners serve HTTP and HTTPS (HTTPRoute, GRPCRoute); a ${r.kind} does not attach to them` });
      } else {
        book.add(r.id, { severity: 'warning', reason: 'NoMatchingParent', field: p.path, parent: i, message: `a ${p.kind} parent is not one Trellis serves; its own controller serves this route` });
      }
    });
  }
  for (const p of inputs.backendTlsPolicies) {
    book.warn(p, 'spec.targetRefs', 'Ignored', 'Trellis does not apply BackendTLSPolicy: calls between sidecars, and from its gateways, are mTLS with SPIFFE identities already');
  }
}
