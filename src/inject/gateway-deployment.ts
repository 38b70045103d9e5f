/**
 * What runs a Gateway of Trellis's GatewayClass in a cluster, as Envoy
 * Gateway and Istio's gateway deployment controller make it (GEP-1762,
 * "in-cluster gateway deployments"): a ServiceAccount (the gateway's
 * identity), a Deployment of the gateway Envoy, and a Service exposing the
 * listener ports. runtime/gateway-deployments.ts keeps them in the cluster.
 *
 * - Names: `<gateway>-<gatewayclass>` for the Deployment and the Service;
 *   labels `gateway.networking.k8s.io/gateway-name` (GEP-1762) and
 *   `gateway-class-name`, which also select the pods.
 * - Each object has an ownerReference to the Gateway (deletion cascades) and
 *   carries `spec.infrastructure.labels` and `.annotations`.
 * - The pod is a gateway pod as docs/gateway-api.md describes it: the
 *   bootstrap init container and the Envoy container are the sidecar's
 *   (sidecar.ts), with `trellis bootstrap --gateway ns/name --listen-address
 *   0.0.0.0`; the unprivileged-port sysctl lets Envoy, which runs as the
 *   proxy user with no capability, bind ports below 1024 (a listener on 80).
 *   Injection is off for it (label trellis.io/inject: disabled): it is a proxy.
 * - Service: type LoadBalancer unless annotation `trellis.io/gateway-service-type`
 *   says ClusterIP or NodePort; one port per listener port Trellis serves
 *   (HTTP, HTTPS, TLS, TCP), named `<protocol>-<port>` as Istio names them.
 *   Replicas: annotation `trellis.io/gateway-replicas` (default 1). Both are
 *   read by model/kinds/gateway-deployment.ts.
 *
 * Pure. A value that cannot be read is returned as a problem, and nothing is
 * rendered for that Gateway (the objects in the cluster stay as they are).
 * https://gateway-api.sigs.k8s.io/geps/gep-1762/
 */
import { createHash } from 'node:crypto';
import { gatewayDeploymentSettings } from '../model/kinds/gateway-deployment.ts';
import { ADMIN_PORT, BOOTSTRAP_PATH, INJECT_ANNOTATION, isObject, READY_PATH, SCRAPE_ANNOTATIONS, STATS_PATH, STATS_PORT, TOKEN_PATH, type InjectOptions, type Json } from './options.ts';
import { bootstrapContainer, envoyContainer, proxyVolumes } from './sidecar.ts';

export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
export const GATEWAY_CLASS_LABEL = 'gateway.networking.k8s.io/gateway-class-name';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'trellis';
/** The listener protocols a Trellis gateway serves (model/resolve/gateways.ts): only those get a Service port. */
const SERVED = ['HTTP', 'HTTPS', 'TLS', 'TCP'];

export interface GatewayDeploymentInput {
  /** The Gateway as stored (metadata with uid, spec). */
  gateway: Json;
  /** Its service account (model MeshGateway.serviceAccount: annotation trellis.io/service-account, else its name). */
  serviceAccount: string;
  options: InjectOptions;
}

export interface GatewayObjects {
  serviceAccount: Json;
  deployment: Json;
  /** None while the Gateway has no listener port Trellis serves (a Service needs a port). */
  service?: Json;
}

export type GatewayRender = { objects: GatewayObjects } | { problems: { field: string; message: string }[] };

/** `<gateway>-<class>`, kept a DNS label (a Service name): past 63 characters, cut and made unique with a hash. */
export function gatewayResourceName(gateway: string, className: string): string {
  const name = `${gateway}-${className}`;
  if (name.length <= 63) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, 54).replace(/[-.]+$/, '')}-${hash}`;
}

const stringMap = (v: unknown): Record<string, string> =>
  isObject(v) ? Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string')) : {};

export function renderGatewayDeployment(input: GatewayDeploymentInput): GatewayRender {
  const { gateway, options: o } = input;
  const meta = isObject(gateway.metadata) ? gateway.metadata : {};
  const spec = isObject(gateway.spec) ? gateway.spec : {};
  const name = String(meta.name);
  const namespace = String(meta.namespace);
  const className = String(spec.gatewayClassName);
  const settings = gatewayDeploymentSettings(stringMap(meta.annotations));
  if ('problems' in settings) return settings;
  const { serviceType: type, replicas } = settings;

  const infrastructure = isObject(spec.infrastructure) ? spec.infrastructure : {};
  const selector = { [GATEWAY_NAME_LABEL]: name, [GATEWAY_CLASS_LABEL]: className };
  const labels = { ...stringMap(infrastructure.labels), [MANAGED_BY_LABEL]: MANAGED_BY, ...selector };
  const extraAnnotations = stringMap(infrastructure.annotations);
  const resourceName = gatewayResourceName(name, className);
  const metadata = (objectName: string): Json => ({
    name: objectName,
    namespace,
    labels,
    ...(Object.keys(extraAnnotations).length > 0 ? { annotations: extraAnnotations } : {}),
    // No blockOwnerDeletion: setting it needs update on gateways/finalizers, which Trellis is not given.
    ownerReferences: [{ apiVersion: String(gateway.apiVersion ?? 'gateway.networking.k8s.io/v1'), kind: 'Gateway', name, uid: String(meta.uid), controller: true }],
  });

  const ports = listenerPorts(spec.listeners);
  const bootstrapArgs = [
    'bootstrap',
    '--token-file', TOKEN_PATH,
    '--gateway', `${namespace}/${name}`,
    '--listen-address', '0.0.0.0',
    '--xds-address', o.xdsAddress,
    '--trust-domain', o.trustDomain,
    '--cluster', resourceName,
    '--admin-address', `127.0.0.1:${ADMIN_PORT}`,
    '--out', BOOTSTRAP_PATH,
    ...(o.caPem ? [] : ['--plaintext']),
  ];
  const envoy = {
    ...envoyContainer(o),
    ports: [...ports.map((p) => ({ containerPort: p.port, protocol: 'TCP' })), { name: 'http-envoy-prom', containerPort: STATS_PORT, protocol: 'TCP' }],
    // Ready once Envoy's first config is in (its listeners exist): before that the Service sends it nothing.
    readinessProbe: { httpGet: { path: READY_PATH, port: STATS_PORT }, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 3 },
  };
  // Prometheus's usual pod annotations, as an injected sidecar's: the gateway's golden metrics.
  const scrape = { [SCRAPE_ANNOTATIONS.scrape]: 'true', [SCRAPE_ANNOTATIONS.port]: String(STATS_PORT), [SCRAPE_ANNOTATIONS.path]: STATS_PATH };
  const deployment: Json = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata(resourceName),
    spec: {
      replicas,
      selector: { matchLabels: selector },
      template: {
        metadata: {
          labels: { ...labels, [INJECT_ANNOTATION]: 'disabled' },
          annotations: { ...scrape, ...extraAnnotations },
        },
        spec: {
          serviceAccountName: input.serviceAccount,
          securityContext: { sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }] },
          initContainers: [bootstrapContainer(o, bootstrapArgs)],
          containers: [envoy],
          volumes: proxyVolumes(o),
        },
      },
    },
  };
  const service: Json | undefined = ports.length === 0 ? undefined : {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(resourceName),
    spec: {
      type,
      selector,
      ports: ports.map((p) => ({ name: `${p.protocol.toLowerCase()}-${p.port}`, port: p.port, targetPort: p.port, protocol: 'TCP' })),
    },
  };
  const serviceAccount: Json = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: metadata(input.serviceAccount) };
  return { objects: { serviceAccount, deployment, ...(service ? { service } : {}) } };
}

/** Each port once (its first listener's protocol, as the resolver keeps the first), served protocols only, in the Gateway's order. */
function listenerPorts(listeners: unknown): { port: number; protocol: string }[] {
  const out: { port: number; protocol: string }[] = [];
  for (const l of Array.isArray(listeners) ? listeners : []) {
    if (!isObject(l) || !Number.isInteger(l.port) || !SERVED.includes(String(l.protocol))) continue;
    if (out.some((p) => p.port === l.port)) continue;
    out.push({ port: Number(l.port), protocol: String(l.protocol) });
  }
  return out;
}
