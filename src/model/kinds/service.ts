/**
 * v1 Service: the ports clients call and how they map to pods. Only what the
 * mesh needs is decoded; other ServiceSpec fields are accepted and ignored.
 * https://kubernetes.io/docs/reference/kubernetes-api/service-resources/service-v1/
 */
import { PORT_NAME, type Field } from '../field.ts';
import type { AppProtocol } from '../types.ts';
import { didYouMean } from '../suggest.ts';
import type { KindSpec } from './kind.ts';
import { UNMESHED_ENDPOINTS_ANNOTATION, UNMESHED_ENDPOINTS_VALUES } from './mtls-policy.ts';

export interface ServiceSpec {
  type: string;
  selector?: Record<string, string>;
  clusterIP?: string;
  ports: ServicePortSpec[];
  /** Annotation mtls-policy.ts UNMESHED_ENDPOINTS_ANNOTATION: addresses that are no known pod have no sidecar. */
  unmeshedPlaintext?: true;
}

export interface ServicePortSpec {
  name?: string;
  port: number;
  targetPort: number | string;
  transport: 'TCP' | 'UDP' | 'SCTP';
  appProtocol?: string;
  protocol: AppProtocol;
}

const SPEC_FIELDS = [
  'ports', 'selector', 'clusterIP', 'clusterIPs', 'type', 'externalIPs', 'sessionAffinity', 'sessionAffinityConfig',
  'loadBalancerIP', 'loadBalancerSourceRanges', 'loadBalancerClass', 'externalName', 'externalTrafficPolicy',
  'internalTrafficPolicy', 'healthCheckNodePort', 'publishNotReadyAddresses', 'ipFamilies', 'ipFamilyPolicy',
  'allocateLoadBalancerNodePorts', 'trafficDistribution',
] as const;
const PORT_FIELDS = ['name', 'port', 'targetPort', 'protocol', 'appProtocol', 'nodePort'] as const;
const TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const;
export const TRANSPORTS = ['TCP', 'UDP', 'SCTP'] as const;

export const serviceKind: KindSpec<ServiceSpec> = {
  apiVersion: 'v1',
  kind: 'Service',
  namespaced: true,
  topLevel: ['spec', 'status'],
  nameRule: 'label1035',
  decode(root) {
    const spec = root.child('spec');
    if (!spec.object({ required: true, known: SPEC_FIELDS })) return undefined;
    const type = spec.child('type').string({ oneOf: TYPES }) ?? 'ClusterIP';
    if (type === 'ExternalName') {
      spec.child('type').warn('Ignored', 'ExternalName services are not part of the mesh; Trellis gives them no clusters. Use a ClusterIP service with endpoints to mesh them');
    }
    const selector = spec.child('selector').absent ? undefined : spec.child('selector').stringMap();
    // "" asks the API server to allocate one, as if it were absent.
    const clusterIP = spec.child('clusterIP').absent ? undefined : spec.child('clusterIP').string({ allowEmpty: true }) || undefined;
    const headless = clusterIP === 'None';
    const ports = decodePorts(spec.child('ports'), type !== 'ExternalName' && !headless);
    const unmeshed = root.child('metadata').child('annotations').child(UNMESHED_ENDPOINTS_ANNOTATION);
    const unmeshedPlaintext = !unmeshed.absent && unmeshed.string({ oneOf: UNMESHED_ENDPOINTS_VALUES }) === 'plaintext';
    return { type, ...(selector ? { selector } : {}), ...(clusterIP ? { clusterIP } : {}), ports, ...(unmeshedPlaintext ? { unmeshedPlaintext: true as const } : {}) };
  },
};

function decodePorts(field: Field, required: boolean): ServicePortSpec[] {
  const items = field.list({ required, minItems: required ? 1 : 0, expected: 'a list of ports such as [{name: http, port: 8080}]' });
  const ports: ServicePortSpec[] = [];
  const seenNames = new Map<string, number>();
  const seenPorts = new Map<string, number>();
  items.forEach((item, i) => {
    if (!item.object({ known: PORT_FIELDS })) return;
    const nameField = item.child('name');
    const name = nameField.absent ? undefined : nameField.string({ pattern: PORT_NAME, expected: 'a port name: up to 15 lower-case letters, digits and "-", with at least one letter' });
    if (name === undefined && nameField.absent && items.length > 1) {
      nameField.report('Required', 'name is required when a service has more than one port: a port name such as "http"');
    }
    const port = item.child('port').integer({ required: true, min: 1, max: 65535 });
    const targetField = item.child('targetPort');
    const targetPort = targetField.absent ? port : targetField.portOrName();
    const transport = (item.child('protocol').string({ oneOf: TRANSPORTS }) ?? 'TCP') as ServicePortSpec['transport'];
    const appField = item.child('appProtocol');
    const appProtocol = appField.absent ? undefined : appField.string();
    if (appProtocol !== undefined && knownAppProtocol(appProtocol) === undefined) {
      const names = Object.values(APP_PROTOCOLS).flat();
      appField.report('InvalidValue', `appProtocol "${appProtocol}" is not one Trellis can proxy.${didYouMean(appProtocol, names)} Expected one of: ${names.join(', ')} (declare any other protocol over TCP as "tcp")`);
    }
    if (name !== undefined) {
      const first = seenNames.get(name);
      if (first !== undefined) nameField.report('InvalidValue', `port name "${name}" is already used by ports[${first}]; each port needs its own name`);
      else seenNames.set(name, i);
    }
    if (port !== undefined) {
      const id = `${port}/${transport}`;
      const first = seenPorts.get(id);
      if (first !== undefined) item.child('port').report('InvalidValue', `port ${port}/${transport} is already defined by ports[${first}]; each port number may appear once per protocol`);
      else seenPorts.set(id, i);
    }
    if (transport !== 'TCP') item.child('protocol').warn('Ignored', `${transport} ports are not proxied by the mesh; only TCP ports get clusters and routes`);
    if (port === undefined || targetPort === undefined) return;
    ports.push({
      ...(name !== undefined ? { name } : {}),
      port,
      targetPort,
      transport,
      ...(appProtocol !== undefined ? { appProtocol } : {}),
      protocol: appProtocolOf(appProtocol, name),
    });
  });
  return ports;
}

/**
 * appProtocol values Trellis reads, by the protocol the mesh proxies them as.
 * Opaque ones go through tcp_proxy (mTLS, network RBAC): TLS the application
 * speaks itself, and server-first protocols (MySQL, SMTP, ...), which must
 * be declared because nothing can be detected on a connection where the
 * server speaks first (docs/interception.md).
 */
export const APP_PROTOCOLS: Readonly<Record<AppProtocol, readonly string[]>> = {
  http: ['http', 'kubernetes.io/ws'],
  http2: ['http2', 'h2c', 'kubernetes.io/h2c'],
  grpc: ['grpc'],
  tcp: ['tcp', 'tls', 'https', 'kubernetes.io/wss', 'mysql', 'postgres', 'postgresql', 'redis', 'mongo', 'mongodb', 'kafka', 'amqp', 'nats', 'smtp'],
  // Nothing declares it: it is what no declaration gives.
  auto: [],
};

const BY_NAME = new Map(Object.entries(APP_PROTOCOLS).flatMap(([proto, names]) => names.map((n): [string, AppProtocol] => [n, proto as AppProtocol])));

/** An appProtocol value Trellis knows (case-insensitive, as Kubernetes' IANA names are). */
export function knownAppProtocol(appProtocol: string): AppProtocol | undefined {
  return BY_NAME.get(appProtocol.toLowerCase());
}

/**
 * The protocol a port carries: `appProtocol` when set (the Kubernetes field for
 * exactly this), else the port name's prefix (the convention `http-web`,
 * `grpc-api`, `tcp-db`, `mysql`), else `auto`: detected per connection
 * (HTTP/1.x and h2c as HTTP, anything else as TCP; translate/detect.ts).
 */
export function appProtocolOf(appProtocol: string | undefined, name: string | undefined): AppProtocol {
  const byName = (s: string): AppProtocol | undefined => {
    const v = s.toLowerCase();
    const dash = v.indexOf('-');
    return BY_NAME.get(v) ?? (dash > 0 ? BY_NAME.get(v.slice(0, dash)) : undefined);
  };
  return (appProtocol !== undefined ? knownAppProtocol(appProtocol) : undefined) ?? (name !== undefined ? byName(name) : undefined) ?? 'auto';
}
