/**
 * A gRPC client's (proxyless) listeners: one api_listener per host form and
 * HTTP port of each service it may call (gRFC A27), and, when the workload is
 * an xDS-enabled gRPC server, its server listeners (gRFC A36/A29/A41).
 */
import type { MeshModel, MeshService } from '../model/types.ts';
import { apiListener } from './listeners.ts';
import type { MemoTables } from './memo.ts';
import { proxylessListenerName, serviceFqdn } from './names.ts';
import type { ProxyContext } from './proxy.ts';
import { proxylessServerListener, serverAddresses } from './proxyless-security.ts';
import { rbacFilter } from './rbac.ts';
import type { ProxyResources } from './resources.ts';
import { httpPorts } from './routes.ts';
import { inboundRules } from './scope.ts';

/** The listeners a proxyless gRPC workload asks for, into `out`. */
export function proxylessListeners(memo: MemoTables, model: MeshModel, proxy: ProxyContext, services: readonly MeshService[], out: ProxyResources): void {
  const callerNamespace = proxy.workload?.namespace;
  for (const s of services) {
    for (const p of httpPorts(s)) {
      for (const host of proxylessHosts(s, callerNamespace)) {
        const name = proxylessListenerName(host, p.port);
        out.listeners.push(memo.listeners.get([name], () => apiListener(name)));
      }
    }
  }
  proxylessServer(memo, model, proxy, out);
}

/** gRFC A36/A29/A41: the listeners an xDS-enabled gRPC server of this workload asks for, with mTLS and RBAC. */
function proxylessServer(memo: MemoTables, model: MeshModel, proxy: ProxyContext, out: ProxyResources): void {
  const w = proxy.workload;
  const provider = proxy.certificateProvider;
  if (!w || !provider) return;
  const rules = inboundRules(model, w);
  const seen = new Set<number>();
  for (const p of w.servedPorts) {
    if (p.protocol !== 'grpc' || seen.has(p.targetPort)) continue;
    seen.add(p.targetPort);
    const ports = [...new Set(w.servedPorts.filter((q) => q.targetPort === p.targetPort).map((q) => q.port).concat(p.targetPort))];
    for (const address of serverAddresses(w.ip)) {
      out.listeners.push(
        memo.listeners.get(['proxyless-server', address, p.targetPort, provider, rules, ports], () =>
          proxylessServerListener({ address, port: p.targetPort, provider, ...(rules ? { rbac: rbacFilter(rules, ports) } : {}) }),
        ),
      );
    }
  }
}

/** Host forms a gRPC client may put in `xds:///host:port`. */
function proxylessHosts(s: MeshService, callerNamespace: string | undefined): string[] {
  const hosts = [serviceFqdn(s.namespace, s.name), `${s.name}.${s.namespace}.svc`, `${s.name}.${s.namespace}`];
  if (callerNamespace === s.namespace) hosts.push(s.name);
  return hosts;
}
