/**
 * `trellis check`'s "webhook reachable": proof that the API server can call
 * Trellis's injection webhook, by making it do so. A Pod is created with
 * `dryRun=All` (admission runs, webhooks included, nothing is stored; the
 * webhooks declare `sideEffects: None`, which dry runs require) where the
 * configuration sends it to Trellis; it must come back injected, or with
 * Trellis's own warning that its namespace is not in the mesh. Whatever
 * breaks the real call path breaks this one: no ready endpoint behind the
 * webhook Service, a caBundle that does not trust the serving certificate,
 * a certificate for another name, Trellis down or refusing.
 *
 * A Service behind the webhook is looked at first: without a ready
 * endpoint the API server's call cannot succeed (and may hang until the
 * webhook's timeout), so that is said at once with what to look at.
 */
import { randomBytes } from 'node:crypto';
import { errorMessage } from '../errors.ts';
import { KubeApiError, type KubeRest } from '../sources/kubernetes/rest.ts';
import { getOrUndefined, type Outcome } from './check-cluster.ts';
import { WEBHOOK_CONFIGURATION, type Json } from './install-manifests.ts';

/** How the shipped configuration (deploy/kubernetes/40-webhook.yaml) chooses what it sends. */
const MESH_LABEL = 'trellis.io/mesh';
const INJECT_LABEL = 'trellis.io/inject';
const INJECTED_ANNOTATION = 'trellis.io/injected';
/** A namespace every cluster has; the probe goes there (labelled to be sent) when no namespace is in the mesh. */
const FALLBACK_NAMESPACE = 'default';

interface ServiceRef {
  namespace: string;
  name: string;
  port: number;
}

function serviceOf(webhook: Json): ServiceRef | undefined {
  const s = (webhook.clientConfig as Json | undefined)?.service as Json | undefined;
  if (!s) return undefined;
  return { namespace: String(s.namespace), name: String(s.name), port: Number(s.port ?? 443) };
}

/** Why no ready endpoint can answer behind `ref`, or undefined when one can. */
async function endpointProblem(rest: KubeRest, ref: ServiceRef): Promise<string | undefined> {
  const id = `Service ${ref.namespace}/${ref.name}`;
  const svc = await getOrUndefined(rest, `/api/v1/namespaces/${ref.namespace}/services/${ref.name}`);
  if (!svc) return `the webhook configuration names ${id}, which does not exist`;
  const port = (((svc.spec as Json).ports ?? []) as Json[]).find((p) => Number(p.port) === ref.port);
  if (!port) return `${id} has no port ${ref.port}, which the webhook configuration names`;
  const portName = String(port.name ?? '');
  const slices = ((await rest.get<Json>(`/apis/discovery.k8s.io/v1/namespaces/${ref.namespace}/endpointslices`, { labelSelector: `kubernetes.io/service-name=${ref.name}` })).items ?? []) as Json[];
  // The EndpointSlice controller names each slice port after the Service port it serves.
  const serving = slices.filter((s) => ((s.ports ?? []) as Json[]).some((p) => String(p.name ?? '') === portName));
  const ready = serving.flatMap((s) => ((s.endpoints ?? []) as Json[]).filter((e) => (e.conditions as Json | undefined)?.ready !== false));
  if (ready.length > 0) return undefined;
  const all = serving.flatMap((s) => (s.endpoints ?? []) as Json[]).length;
  return `${id} has no ready endpoint for port ${ref.port}${portName ? ` (${portName})` : ''}${all > 0 ? ` (${all} not ready)` : ''}: no Trellis replica is there to answer the API server`;
}

/** A namespace whose pods the configuration sends to Trellis, and the labels the probe pod needs there. */
async function probeNamespace(rest: KubeRest): Promise<{ namespace: string; labels: Record<string, string>; inMesh: boolean }> {
  const labelled = ((await rest.get<Json>('/api/v1/namespaces', { labelSelector: `${MESH_LABEL}=enabled,${INJECT_LABEL} notin (disabled,false)` })).items ?? []) as Json[];
  const mesh = labelled.map((n) => String((n.metadata as Json).name)).filter((n) => !n.startsWith('kube-')).sort()[0];
  if (mesh) return { namespace: mesh, labels: {}, inMesh: true };
  // Outside the mesh the configuration sends pods that ask for the sidecar.
  return { namespace: FALLBACK_NAMESPACE, labels: { [INJECT_LABEL]: 'enabled' }, inMesh: false };
}

/** What the API server's failure to call the webhook means, and what to do. */
function callFailure(message: string, service: ServiceRef | undefined, namespace: string): Outcome {
  const fact = `the API server could not call it (a dry-run pod in namespace ${namespace}): ${message}`;
  const where = service ? `kubectl -n ${service.namespace} get pods,endpointslices -l app.kubernetes.io/name=trellis; kubectl -n ${service.namespace} logs deploy/trellis` : 'check that the URL in the webhook configuration reaches a running Trellis';
  if (/x509|certificate|tls:/i.test(message)) {
    if (/valid for|not .* valid for|doesn't contain|IP SANs/i.test(message)) {
      return { ok: false, fact, fix: `the serving certificate is not for the name the API server calls: give \`serve --webhook-dns-names\` ${service ? `${service.name}.${service.namespace}.svc` : 'the host of the URL'} (install sets it for its namespace)` };
    }
    return { ok: false, fact, fix: `the configuration's caBundle does not trust the webhook's certificate: a running replica sets it to the mesh roots within seconds (RBAC: patch on ${WEBHOOK_CONFIGURATION}); see "webhook configuration current" above` };
  }
  return { ok: false, fact, fix: `no Trellis replica answers: ${where}` };
}

/** The text of Trellis's Warning header value (RFC 7234: `299 - "text"`, quotes in the text escaped). */
function trellisWarning(header: string): string | undefined {
  for (const m of header.matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
    const text = m[1]!.replace(/\\(.)/g, '$1');
    if (text.startsWith('trellis: ')) return text;
  }
  return undefined;
}

export async function webhookReachable(rest: KubeRest): Promise<Outcome> {
  const hook = await getOrUndefined(rest, `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${WEBHOOK_CONFIGURATION}`);
  if (!hook) return { ok: false, fact: `no MutatingWebhookConfiguration ${WEBHOOK_CONFIGURATION}: nothing calls Trellis`, fix: '`trellis install --apply`' };
  const service = ((hook.webhooks ?? []) as Json[]).map(serviceOf).find((s) => s !== undefined);
  if (service) {
    const problem = await endpointProblem(rest, service);
    if (problem) return { ok: false, fact: problem, fix: `kubectl -n ${service.namespace} get pods -l app.kubernetes.io/name=trellis (a replica is ready once it has listed the cluster; see "Trellis replicas ready")` };
  }
  const probe = await probeNamespace(rest);
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `trellis-check-${randomBytes(4).toString('hex')}`, labels: { 'app.kubernetes.io/name': 'trellis-check', ...probe.labels } },
    // Named explicitly: the sidecar's token volume is for the pod's service account.
    spec: { serviceAccountName: 'default', containers: [{ name: 'probe', image: 'registry.k8s.io/pause:3.10' }] },
  };
  let created: { body: Json; headers: Record<string, string> };
  try {
    created = await rest.postWithHeaders<Json>(`/api/v1/namespaces/${probe.namespace}/pods`, pod, { dryRun: 'All' });
  } catch (e) {
    const message = e instanceof KubeApiError && typeof e.body?.message === 'string' ? e.body.message : errorMessage(e);
    if (/failed calling webhook|failed to call webhook/i.test(message)) return callFailure(message, service, probe.namespace);
    if (/denied the request/i.test(message)) {
      return { ok: false, fact: `reachable, but it refused a dry-run pod in namespace ${probe.namespace}: ${message}`, fix: 'pods there are refused the same way: `kubectl -n trellis-system logs deploy/trellis` says why' };
    }
    return { ok: false, fact: `a dry-run pod in namespace ${probe.namespace} could not be created: ${message}`, fix: 'the check needs permission to create pods there (dry run: nothing is stored)' };
  }
  const where = `a dry-run pod in namespace ${probe.namespace}`;
  if (((created.body.metadata as Json | undefined)?.annotations as Json | undefined)?.[INJECTED_ANNOTATION] === 'true') {
    return { ok: true, fact: `the API server called it: ${where} came back injected` };
  }
  // Trellis's warnings reach the client as Warning headers (`299 - "trellis: …"`).
  const warning = trellisWarning(created.headers.warning ?? '');
  if (warning && !probe.inMesh) return { ok: true, fact: `the API server called it: ${where} (labelled ${INJECT_LABEL}=enabled; no namespace is labelled ${MESH_LABEL}=enabled) came back with Trellis's answer "${warning}"` };
  return {
    ok: false,
    fact: `${where} came back without a sidecar${warning ? ` ("${warning}")` : ''}: the API server did not send it to Trellis, or Trellis left it alone`,
    fix: `compare the namespaceSelector and objectSelector of ${WEBHOOK_CONFIGURATION} with deploy/kubernetes/40-webhook.yaml, and \`serve --namespace-selector\` with the namespaces' labels`,
  };
}
