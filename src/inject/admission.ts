/**
 * The admission webhook's answer (admission.k8s.io/v1 AdmissionReview) to a
 * Pod being created: the same decision as `trellis inject` (pod.ts), as a
 * JSON patch. Pure: the request's text and the mesh's state in, the HTTP
 * status and the body out; the HTTPS server is runtime/webhook.ts.
 *
 * Never blocks a pod outside the mesh: a namespace Trellis does not serve,
 * another resource than pods, another operation than CREATE are all allowed
 * unchanged (with a warning where the configuration is wrong). Refused, with
 * the reason kubectl shows: a pod that cannot be injected as written (a name
 * the sidecar uses, an unreadable override annotation), and any pod sent
 * before Trellis has listed the cluster (the configuration sends only pods
 * meant for the mesh, which must not start without it). A body that is not
 * an AdmissionReview is answered 400 with what is wrong with it.
 */
import { errorMessage, OperatorError } from '../errors.ts';
import { isObject, type InjectOptions, type Json } from './options.ts';
import { planPodInjection, type PodPlan } from './pod.ts';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export interface AdmissionContext {
  /** Injection options as of now (the mesh's roots and trust domain change while Trellis runs). */
  options: InjectOptions;
  inMesh(namespace: string): boolean;
  /** The Services of a namespace in the mesh, as written (inbound exclusions of their non-HTTP ports). */
  services(namespace: string): readonly Json[];
  /** How the mesh's namespaces are chosen, for messages (e.g. "label trellis.io/mesh=enabled"). */
  meshNamespaces: string;
  /** Set while Trellis does not know the mesh's namespaces yet (the first list from the API server is not in). */
  notListed?: string;
}

export interface AdmissionAnswer {
  httpStatus: number;
  body: Json;
  outcome: 'injected' | 'unchanged' | 'refused' | 'malformed';
  /** What happened, for the log: the workload and the reason. */
  message: string;
}

export interface JsonPatchOp {
  op: 'add';
  path: string;
  value: unknown;
}

const malformed = (message: string): AdmissionAnswer => ({
  httpStatus: 400,
  body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 400, message: `not an ${ADMISSION_API_VERSION} AdmissionReview: ${message}` },
  outcome: 'malformed',
  message,
});

export function admit(text: string, ctx: AdmissionContext): AdmissionAnswer {
  let review: unknown;
  try {
    review = JSON.parse(text);
  } catch (e) {
    return malformed(`the body is not JSON (${errorMessage(e)})`);
  }
  if (!isObject(review)) return malformed('the body is not a JSON object');
  if (review.kind !== 'AdmissionReview' || review.apiVersion !== ADMISSION_API_VERSION) {
    return malformed(`kind ${JSON.stringify(review.kind)}, apiVersion ${JSON.stringify(review.apiVersion)}: expected AdmissionReview ${ADMISSION_API_VERSION} (admissionReviewVersions: [v1] in the webhook configuration)`);
  }
  const request = review.request;
  if (!isObject(request)) return malformed('request: missing');
  if (typeof request.uid !== 'string' || request.uid === '') return malformed('request.uid: missing');
  const uid = request.uid;
  const answer = (outcome: AdmissionAnswer['outcome'], message: string, response: Json): AdmissionAnswer => ({
    httpStatus: 200,
    body: { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response: { uid, ...response } },
    outcome,
    message,
  });
  const allow = (message: string, warning?: string) => answer('unchanged', message, { allowed: true, ...(warning ? { warnings: [`trellis: ${warning}`] } : {}) });
  const refuse = (message: string) => answer('refused', message, { allowed: false, status: { code: 400, reason: 'BadRequest', message: `trellis: ${message}` } });

  const resource = isObject(request.resource) ? request.resource : {};
  if (resource.group !== '' || resource.resource !== 'pods' || (request.subResource ?? '') !== '') {
    const what = `${String(resource.group ?? '?')}/${String(resource.resource ?? '?')}${request.subResource ? `/${String(request.subResource)}` : ''}`;
    return allow(`${what}: not a pod`, `Trellis injects pods only; ${what} is allowed unchanged (the webhook configuration should match pods only)`);
  }
  if (request.operation !== 'CREATE') return allow(`operation ${String(request.operation)}: only CREATE is injected`);
  const namespace = typeof request.namespace === 'string' ? request.namespace : '';
  const pod = request.object;
  const meta = isObject(pod) && isObject(pod.metadata) ? pod.metadata : {};
  const named = typeof meta.name === 'string' && meta.name !== '' ? meta.name : `${typeof meta.generateName === 'string' ? meta.generateName : ''}*`;
  const workload = `Pod ${namespace}/${named}`;
  // Not knowing the mesh yet, allowing would let a mesh pod start without its
  // sidecar: refused instead, like failurePolicy Fail (only pods meant for the mesh are sent).
  if (ctx.notListed) return refuse(`${workload}: ${ctx.notListed}; retry in a moment`);
  if (!namespace || !ctx.inMesh(namespace)) {
    return allow(`${workload}: namespace not in the mesh`, `namespace "${namespace}" is not in the mesh (${ctx.meshNamespaces}), so the pod is not injected: its sidecar would get no config`);
  }
  if (!isObject(pod) || !isObject(pod.spec)) return refuse(`${workload}: request.object is not a Pod (no spec)`);
  if (typeof meta.namespace === 'string' && meta.namespace !== '' && meta.namespace !== namespace) {
    return refuse(`${workload}: the pod names namespace "${meta.namespace}" but is created in "${namespace}"`);
  }
  let plan: PodPlan;
  try {
    plan = planPodInjection({ workload, namespace, meta, spec: pod.spec, services: ctx.services(namespace), fallbackName: named.replace(/-?\*$/, '') || 'workload' }, ctx.options);
  } catch (e) {
    // An unreadable override annotation: the operator's to fix, said in their words.
    if (e instanceof OperatorError) return refuse(e.message);
    throw e;
  }
  if (plan.action === 'skip') return allow(`${workload}: ${plan.reason}`);
  if (plan.action === 'refuse') return refuse(`${workload}: ${plan.reason}`);
  const patch = podPatch(pod, plan);
  return answer('injected', `${workload}: sidecar added`, {
    allowed: true,
    patchType: 'JSONPatch',
    patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
    ...(plan.warnings.length > 0 ? { warnings: plan.warnings.map((w) => `trellis: ${w}`) } : {}),
  });
}

/** JSON Pointer escaping of one key (RFC 6901): annotation names contain '/'. */
const pointer = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

/** The plan as RFC 6902 `add` operations on the pod as the API server sent it. */
export function podPatch(pod: Json, plan: Extract<PodPlan, { action: 'inject' }>): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  const meta = isObject(pod.metadata) ? pod.metadata : undefined;
  if (!meta) ops.push({ op: 'add', path: '/metadata', value: { annotations: plan.annotations } });
  else if (!isObject(meta.annotations)) ops.push({ op: 'add', path: '/metadata/annotations', value: plan.annotations });
  else for (const [k, v] of Object.entries(plan.annotations)) ops.push({ op: 'add', path: `/metadata/annotations/${pointer(k)}`, value: v });
  const spec = pod.spec as Json;
  const list = (field: string, items: Json[], at: 'start' | 'end') => {
    if (items.length === 0) return;
    if (!Array.isArray(spec[field]) || spec[field].length === 0) ops.push({ op: 'add', path: `/spec/${field}`, value: items });
    // Inserting at i shifts what was there: in order, the sidecar's parts come first.
    else items.forEach((value, i) => ops.push({ op: 'add', path: `/spec/${field}/${at === 'start' ? i : '-'}`, value }));
  };
  list('initContainers', plan.initContainers, 'start');
  list('containers', plan.containers, 'end');
  list('volumes', plan.volumes, 'end');
  return ops;
}
