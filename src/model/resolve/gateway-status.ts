/**
 * What Trellis does with the Gateway API kinds it does not program
 * (gateway-kinds.ts), said on each object, so none is silently ignored:
 *
 * - GatewayClass and Gateway of another controller: a warning (Ignored) that
 *   names the controller that serves them. Of Trellis's own controller
 *   (TRELLIS_CONTROLLER): accepted, and programmed (resolve/gateways.ts).
 * - TLSRoute and TCPRoute: resolve/stream-routes.ts.
 * - BackendTLSPolicy: a warning (Ignored): mesh traffic between sidecars is
 *   mTLS with workload identities, and no gateway originates TLS.
 */
import type { BackendTlsPolicySpec, GatewayClassSpec, GatewaySpec } from '../kinds/gateway-kinds.ts';
import { TRELLIS_CONTROLLER } from '../kinds/gateway-common.ts';
import type { Book, Entry } from './book.ts';

export function checkGatewayKinds(
  inputs: {
    gatewayClasses: readonly Entry<GatewayClassSpec>[];
    gateways: readonly Entry<GatewaySpec>[];
    backendTlsPolicies: readonly Entry<BackendTlsPolicySpec>[];
  },
  book: Book,
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
  for (const p of inputs.backendTlsPolicies) {
    book.warn(p, 'spec.targetRefs', 'Ignored', 'Trellis does not apply BackendTLSPolicy: calls between sidecars, and from its gateways, are mTLS with SPIFFE identities already');
  }
}
