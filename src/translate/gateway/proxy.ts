/**
 * A gateway Envoy's resources: a listener per port of its Gateway, route
 * configurations, its certificates, and clusters to the services its routes
 * call, over mTLS as the gateway's identity: the same outbound block a sidecar
 * of that scope would get, shared with any proxy that has the same scope.
 * Nothing while the Gateway is not programmed.
 */
import type { MeshGateway, MeshModel } from '../../model/types.ts';
import { blackholeCluster } from '../egress.ts';
import { jwksClusters } from '../jwt-authn.ts';
import type { MemoTables } from '../memo.ts';
import { gatewayRouteConfigName, TCP_ROUTE_REFUSED } from '../names.ts';
import type { ProxyContext } from '../proxy.ts';
import { emptyResources, type ProxyResources } from '../resources.ts';
import type { ScopeShared } from '../scope-shared.ts';
import { gatewayScopeOf } from '../signature.ts';
import { refusesSome } from '../tcp-outbound.ts';
import { gatewayListener } from './listeners.ts';
import { gatewayRouteConfiguration } from './routes.ts';
import { gatewayCertificateSecret } from './secrets.ts';
import { gatewayStreamChains, gatewayStreamListener } from './streams.ts';

export function gatewayResources(memo: MemoTables, shared: ScopeShared, model: MeshModel, proxy: ProxyContext, g: MeshGateway | undefined): ProxyResources {
  if (!g) return emptyResources();
  const block = shared.outboundBlock(gatewayScopeOf(model, g), { mtls: true, zone: proxy.zone, sidecar: true, a29: undefined });
  const out: ProxyResources = { ...emptyResources([g.identity]), clusters: [...block.clusters], sharedClusters: block.clusters, endpoints: [...block.endpoints] };
  const address = proxy.gatewayAddress;
  const seen = new Set<string>();
  for (const p of g.ports) {
    if (p.protocol === 'TLS' || p.protocol === 'TCP') {
      // TLS passthrough and TCP (gateway/streams.ts): no route configuration, no certificate.
      out.listeners.push(memo.listeners.get(['gateway-stream', address, p], () => gatewayStreamListener(p, address)));
      if (gatewayStreamChains(p).some((c) => refusesSome(c.target)) && !out.clusters.some((c) => c.name === TCP_ROUTE_REFUSED)) {
        out.clusters.push(memo.clusters.get([TCP_ROUTE_REFUSED], () => blackholeCluster(TCP_ROUTE_REFUSED)));
      }
      continue;
    }
    const shape = p.listeners.map((l) => [l.name, l.hostname, l.certificates.map((c) => c.secret)]);
    out.listeners.push(memo.listeners.get(['gateway', address, p.port, p.protocol, shape, g.authentication], () => gatewayListener(p, address, g.authentication)));
    const configs = p.protocol === 'HTTP' ? [{ name: gatewayRouteConfigName(p.port), listeners: p.listeners }] : p.listeners.map((l) => ({ name: gatewayRouteConfigName(p.port, l.name), listeners: [l] }));
    for (const c of configs) {
      out.routes.push(memo.routes.get(['gateway', c.name, c.listeners.map((l) => [l.name, l.hostname, l.routes])], () => gatewayRouteConfiguration(c.name, c.listeners)));
    }
    for (const c of p.listeners.flatMap((l) => l.certificates)) {
      if (seen.has(c.secret)) continue;
      seen.add(c.secret);
      out.secrets.push(memo.secrets.get([c.secret, c.certificateChainPem, c.privateKeyPem], () => gatewayCertificateSecret(c)));
    }
  }
  // The clusters its JWKS URLs are fetched through.
  if (g.authentication) for (const c of jwksClusters(g.authentication)) out.clusters.push(memo.clusters.get([c.name], () => c));
  return out;
}
