/**
 * How Trellis runs a Gateway of its class in a cluster (inject/gateway-deployment.ts
 * renders the objects): the Gateway's annotations that choose the Service
 * type and the number of replicas, read once here for the renderer and for
 * validation (resolve/gateways.ts warns about a value it cannot read, so
 * `trellis validate` and the Gateway's status say so).
 */
export const SERVICE_TYPE_ANNOTATION = 'trellis.io/gateway-service-type';
export const REPLICAS_ANNOTATION = 'trellis.io/gateway-replicas';
export const GATEWAY_SERVICE_TYPES = ['LoadBalancer', 'ClusterIP', 'NodePort'] as const;
export type GatewayServiceType = (typeof GATEWAY_SERVICE_TYPES)[number];

export type GatewayDeploymentSettings =
  | { serviceType: GatewayServiceType; replicas: number }
  | { problems: { field: string; message: string }[] };

export function gatewayDeploymentSettings(annotations: Readonly<Record<string, string>>): GatewayDeploymentSettings {
  const problems: { field: string; message: string }[] = [];
  const type = annotations[SERVICE_TYPE_ANNOTATION] ?? 'LoadBalancer';
  if (!(GATEWAY_SERVICE_TYPES as readonly string[]).includes(type)) {
    problems.push({ field: `metadata.annotations.${SERVICE_TYPE_ANNOTATION}`, message: `"${type}" is not a Service type Trellis makes for a gateway; expected ${GATEWAY_SERVICE_TYPES.join(', ')}` });
  }
  const replicasText = annotations[REPLICAS_ANNOTATION] ?? '1';
  if (!/^\d{1,4}$/.test(replicasText)) problems.push({ field: `metadata.annotations.${REPLICAS_ANNOTATION}`, message: `"${replicasText}" is not a number of replicas; expected a whole number such as 2` });
  return problems.length > 0 ? { problems } : { serviceType: type as GatewayServiceType, replicas: Number(replicasText) };
}
