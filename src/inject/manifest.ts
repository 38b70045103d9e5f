/**
 * Sidecar injection of workload manifests (Pod, Deployment, StatefulSet,
 * DaemonSet, ReplicaSet, Job, CronJob; multi-document YAML): each pod
 * (template) is rewritten so that it runs in the mesh; everything else passes
 * through unchanged, comments kept. Pure: text and options in, text and a
 * report out, so `trellis inject` and an admission webhook can share it.
 *
 * What a pod gets (docs/kubernetes.md):
 *   - volume `trellis-token`: a projected service-account token for audience
 *     `trellis`, bound to the pod (TokenReview proves it to Trellis);
 *   - init container `trellis-iptables` (transparent mode; root, NET_ADMIN and
 *     NET_RAW, nothing else): outbound TCP → 15001 except the proxy's own
 *     traffic (uid 1337), loopback, DNS and the xDS port; inbound TCP → the
 *     sidecar's one inbound listener, 15006 (original_dst: one filter chain
 *     per targetPort), except the sidecar's own ports, non-HTTP service ports
 *     and the node's probes (from status.hostIP);
 *   - init container `trellis-bootstrap` (the Trellis image, uid 1337):
 *     `trellis bootstrap --token-file` writes the Envoy bootstrap, with the
 *     token and the mesh root, into the in-memory volume `trellis-bootstrap`;
 *   - the sidecar `trellis-proxy` (envoyproxy/envoy, uid 1337, no
 *     capabilities, read-only root): a native sidecar (an init container with
 *     restartPolicy Always: up before the application, down after it), or a
 *     plain container with nativeSidecar false (clusters before 1.29).
 * Which pods are injected, and what each gets, is decided once for this and
 * the admission webhook: pod.ts. Injecting twice changes nothing; annotation
 * or label `trellis.io/inject: "false"` (or "disabled") on a pod (template)
 * opts it out; hostNetwork pods are never injected.
 */
import { isMap, isSeq, parseDocument, type Document } from 'yaml';
import { UsageError } from '../errors.ts';
import { isObject, type InjectOptions, type Json } from './options.ts';
import { planPodInjection } from './pod.ts';

export interface InjectResult {
  yaml: string;
  /** "Kind ns/name" of each workload injected */
  injected: string[];
  skipped: Array<{ workload: string; reason: string }>;
  warnings: string[];
}

/** Where each kind keeps its pod template: the path of the pod's metadata and spec. */
const POD_PATHS: Record<string, { meta: string[]; spec: string[] }> = {
  Pod: { meta: ['metadata'], spec: ['spec'] },
  Deployment: { meta: ['spec', 'template', 'metadata'], spec: ['spec', 'template', 'spec'] },
  StatefulSet: { meta: ['spec', 'template', 'metadata'], spec: ['spec', 'template', 'spec'] },
  DaemonSet: { meta: ['spec', 'template', 'metadata'], spec: ['spec', 'template', 'spec'] },
  ReplicaSet: { meta: ['spec', 'template', 'metadata'], spec: ['spec', 'template', 'spec'] },
  Job: { meta: ['spec', 'template', 'metadata'], spec: ['spec', 'template', 'spec'] },
  CronJob: { meta: ['spec', 'jobTemplate', 'spec', 'template', 'metadata'], spec: ['spec', 'jobTemplate', 'spec', 'template', 'spec'] },
};

const get = (o: unknown, path: readonly string[]): Json | undefined =>
  path.reduce<unknown>((v, k) => (isObject(v) ? v[k] : undefined), o) as Json | undefined;

/**
 * Injects every workload of a YAML stream. Input that is not YAML, or a pod
 * spec whose lists are not lists, is a UsageError naming the document or path.
 */
export function injectManifest(text: string, o: InjectOptions): InjectResult {
  // One chunk per document, so that documents left alone are printed exactly as written.
  const chunks = splitDocuments(text);
  const docs = chunks.map((c) => parseDocument(c));
  const result: InjectResult = { yaml: '', injected: [], skipped: [], warnings: [] };
  const changed = new Set<number>();
  const objects = docs.map((d, i) => {
    if (d.errors.length > 0) throw new UsageError(`invalid YAML in document ${i + 1}: ${d.errors[0]!.message}`);
    return d.toJS() as unknown;
  });
  const services = objects.filter((x): x is Json => isObject(x) && x.kind === 'Service' && (x.apiVersion === 'v1' || x.apiVersion === undefined));
  for (let i = 0; i < docs.length; i++) {
    const obj = objects[i];
    if (!isObject(obj) || typeof obj.kind !== 'string' || !POD_PATHS[obj.kind]) continue;
    const doc = docs[i]!;
    const where = POD_PATHS[obj.kind]!;
    const name = `${obj.kind} ${obj.metadata?.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata?.name ?? '(unnamed)'}`;
    const meta = get(obj, where.meta) ?? {};
    const spec = get(obj, where.spec);
    const namespace = typeof obj.metadata?.namespace === 'string' ? obj.metadata.namespace : undefined;
    const plan = planPodInjection({ workload: name, namespace, meta, spec, services, fallbackName: String(obj.metadata?.name ?? 'workload') }, o);
    if (plan.action !== 'inject') {
      result.skipped.push({ workload: name, reason: plan.reason });
      continue;
    }
    result.warnings.push(...plan.warnings);
    // Edit the document in place (comments and formatting elsewhere are kept).
    for (const [k, v] of Object.entries(plan.annotations)) doc.setIn([...where.meta, 'annotations', k], v);
    prepend(doc, [...where.spec, 'initContainers'], plan.initContainers);
    if (plan.containers.length > 0) append(doc, [...where.spec, 'containers'], plan.containers);
    append(doc, [...where.spec, 'volumes'], plan.volumes);
    result.injected.push(name);
    changed.add(i);
  }
  result.yaml = chunks
    .map((c, i) => (changed.has(i) ? docs[i]!.toString({ lineWidth: 0 }) : c))
    .filter((t) => t.trim() !== '')
    .map((t) => (t.endsWith('\n') ? t : `${t}\n`))
    .join('---\n');
  return result;
}

/** Splits a YAML stream at its `---` lines (the marker itself dropped). */
export function splitDocuments(text: string): string[] {
  return text.split(/^---[ \t]*(?:#.*)?$\r?\n?/m);
}

function prepend(doc: Document, path: string[], items: Json[]): void {
  const node = doc.getIn(path, true);
  if (isSeq(node)) node.items.unshift(...items.map((x) => doc.createNode(x)));
  else doc.setIn(path, doc.createNode(items));
}

function append(doc: Document, path: string[], items: Json[]): void {
  const node = doc.getIn(path, true);
  if (isSeq(node)) node.items.push(...items.map((x) => doc.createNode(x)));
  else if (node === undefined || node === null || (isMap(node) && node.items.length === 0)) doc.setIn(path, doc.createNode(items));
  else throw new UsageError(`${path.join('.')} is not a list`);
}
