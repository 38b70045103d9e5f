/**
 * v1 Service: the ports clients call and how they map to pods. Only what the
 * mesh needs is decoded; other ServiceSpec fields are accepted and ignored.
 * https://kubernetes.io/docs/reference/kubernetes-api/service-resources/service-v1/
 */
import { PORT_NAME, type Field } from '../field.ts';
import type { AppProtocol } from '../types.ts';
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
    const appProtocol = item.child('appProtocol').absent ? undefined : item.child('appProtocol').string();
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
 * The protocol a port carries: `appProtocol` when set (the Kubernetes field for
 * exactly this), else the port name's prefix (the convention `http-web`,
 * `grpc-api`), else HTTP — the mesh's L7 features need HTTP, and an HTTP/1
 * connection manager also handles plain HTTP/1 clients of a TCP port.
 */
export function appProtocolOf(appProtocol: string | undefined, name: string | undefined): AppProtocol {
  const byKeyword = (s: string): AppProtocol | undefined => {
    const v = s.toLowerCase();
    if (v === 'grpc' || v.startsWith('grpc-')) return 'grpc';
    if (v === 'http2' || v === 'h2c' || v === 'kubernetes.io/h2c' || v.startsWith('http2-')) return 'http2';
    if (v === 'http' || v === 'kubernetes.io/ws' || v.startsWith('http-')) return 'http';
    if (v === 'tcp' || v.startsWith('tcp-') || v === 'https' || v === 'tls' || v === 'kubernetes.io/wss') return 'tcp';
    return undefined;
  };
  return (appProtocol !== undefined ? byKeyword(appProtocol) : undefined) ?? (name !== undefined ? byKeyword(name) : undefined) ?? 'http';
}
