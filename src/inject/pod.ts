/**
 * The one injection decision, for one pod (template): whether it gets the
 * sidecar and exactly what is added. `trellis inject` applies the plan to a
 * YAML document (manifest.ts, comments kept); the admission webhook turns it
 * into a JSON patch (admission.ts). Pure.
 */
import { INJECT_OPT_OUT_VALUES } from '../model/kinds/mtls-policy.ts';
import { inboundExclusions } from './iptables.ts';
import { INJECT_ANNOTATION, INJECTED_ANNOTATION, isObject, NAMES, SCRAPE_ANNOTATIONS, STATS_PATH, STATS_PORT, type InjectOptions, type Json } from './options.ts';
import { podOptions } from './overrides.ts';
import { sidecarParts } from './sidecar.ts';

export interface PodInput {
  /** "Kind ns/name", for messages */
  workload: string;
  namespace: string | undefined;
  /** the pod's (template's) metadata and spec, as written */
  meta: Json;
  spec: unknown;
  /** Services that may select the pod (inbound exclusions of non-HTTP ports) */
  services: readonly Json[];
  /** Envoy's service cluster when the pod has no app label */
  fallbackName: string;
}

export type PodPlan =
  | {
      action: 'inject';
      /** annotations to set on the pod (template) */
      annotations: Record<string, string>;
      /** in order, before any init container of the application */
      initContainers: Json[];
      /** after the application's containers (the classic, non-native sidecar) */
      containers: Json[];
      volumes: Json[];
      warnings: string[];
    }
  /** Left as it is, and that is fine (opted out, already injected, no pod). */
  | { action: 'skip'; reason: string }
  /** Cannot be injected as written: the pod must change (a name that collides with the sidecar's parts). */
  | { action: 'refuse'; reason: string };


const names = (list: unknown): unknown[] => (Array.isArray(list) ? list.map((x) => (isObject(x) ? x.name : undefined)) : []);

/**
 * Decides one pod's injection. Annotation overrides (overrides.ts) apply to
 * it; a value that cannot be read throws a UsageError naming the annotation.
 */
export function planPodInjection(pod: PodInput, base: InjectOptions): PodPlan {
  const { workload, meta, spec } = pod;
  if (!isObject(spec) || !Array.isArray(spec.containers)) return { action: 'skip', reason: 'no pod spec with containers' };
  const annotations = (isObject(meta.annotations) ? meta.annotations : {}) as Record<string, unknown>;
  const labels = (isObject(meta.labels) ? meta.labels : {}) as Record<string, string>;
  if (annotations[INJECTED_ANNOTATION] !== undefined) return { action: 'skip', reason: 'already injected' };
  for (const [where, values] of [['annotation', annotations], ['label', labels]] as const) {
    const v = values[INJECT_ANNOTATION];
    if (v !== undefined && INJECT_OPT_OUT_VALUES.includes(String(v))) return { action: 'skip', reason: `${where} ${INJECT_ANNOTATION}: "${String(v)}"` };
  }
  if (spec.hostNetwork === true) return { action: 'skip', reason: "hostNetwork: the redirect would rewrite the node's own traffic" };
  const ours = new Set<string>(Object.values(NAMES));
  const taken = [
    ...names(spec.containers).map((n) => ['container', n] as const),
    ...names(spec.initContainers).map((n) => ['init container', n] as const),
    ...names(spec.volumes).map((n) => ['volume', n] as const),
  ].find(([, n]) => typeof n === 'string' && ours.has(n));
  if (taken) {
    return {
      action: 'refuse',
      reason: `it has a ${taken[0]} named "${String(taken[1])}", a name the Trellis sidecar uses, but no ${INJECTED_ANNOTATION} annotation: rename it, or opt the pod out with the label ${INJECT_ANNOTATION}: disabled`,
    };
  }
  const o = podOptions(base, annotations, workload);
  const warnings: string[] = [];
  const excludeInbound = o.mode === 'transparent' ? inboundExclusions({ workload, namespace: pod.namespace, labels, spec, services: pod.services }, o, warnings) : [];
  const cluster = labels.app ?? labels['app.kubernetes.io/name'] ?? pod.fallbackName;
  const parts = sidecarParts(o, excludeInbound, String(cluster));
  const first = spec.containers[0];
  const set: Record<string, string> = { [INJECTED_ANNOTATION]: 'true' };
  // `kubectl logs/exec` keep going to the application, not to the sidecar.
  if (annotations['kubectl.kubernetes.io/default-container'] === undefined && isObject(first) && typeof first.name === 'string') {
    set['kubectl.kubernetes.io/default-container'] = first.name;
  }
  // Prometheus's usual pod annotations point at the sidecar's golden-metric stats (docs/telemetry.md);
  // a pod that already has its own keeps them (a pod has one set), and is told how to scrape the sidecar too.
  if (annotations[SCRAPE_ANNOTATIONS.scrape] === undefined) {
    Object.assign(set, { [SCRAPE_ANNOTATIONS.scrape]: 'true', [SCRAPE_ANNOTATIONS.port]: String(STATS_PORT), [SCRAPE_ANNOTATIONS.path]: STATS_PATH });
  } else {
    warnings.push(`${workload}: it has its own ${SCRAPE_ANNOTATIONS.scrape} annotation, kept; scrape the sidecar's golden metrics on port ${STATS_PORT} ${STATS_PATH} with a scrape config of its own (docs/telemetry.md)`);
  }
  return {
    action: 'inject',
    annotations: set,
    initContainers: o.nativeSidecar ? [...parts.initContainers, parts.proxy] : parts.initContainers,
    containers: o.nativeSidecar ? [] : [parts.proxy],
    volumes: parts.volumes,
    warnings,
  };
}
