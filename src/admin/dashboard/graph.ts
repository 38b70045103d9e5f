/**
 * The mesh as a graph for the dashboard (GET /api/v1/graph): workloads and
 * services as nodes; as edges, the calls a workload makes to a service port
 * (seen in the golden metrics, or allowed by a TrafficTarget), the backends a
 * TrafficSplit weighs, and the workloads a service selects. Each call edge
 * carries its golden metrics over the window, or `traffic: null` where
 * nothing was measured ("no data", never zeros). Pure: the model, one read of
 * the golden metrics and the name metrics give a workload in, nothing else.
 */
import type { MeshModel, Workload } from '../../model/types.ts';
import type { EdgeStats, GoldenMetrics } from '../golden/edges.ts';
import { byCodePoint, layoutGraph, type Placed } from './layout.ts';

export type NodeKind = 'workload' | 'service';

export interface GraphNode extends Placed {
  id: string;
  kind: NodeKind;
  namespace: string;
  name: string;
  /** Workloads: the pods behind the name (a workload is what metrics name: its `app` label, else the pod). */
  pods?: string[];
  /** Workloads: their SPIFFE IDs. */
  identities?: string[];
  /** Services: their port numbers. */
  ports?: number[];
  /** False for a node only the metrics name (a workload or service no longer in the model). */
  inModel: boolean;
}

/** An edge's figures over the window: what `EdgeStats` says, without the keys. */
export type EdgeTraffic = Pick<EdgeStats, 'requests' | 'successes' | 'failures' | 'successRate' | 'rps' | 'latencyMs' | 'tcp'>;

export interface GraphEdge {
  id: string;
  /** calls: workload -> service port; splits: root service -> backend; selects: service -> its workload. */
  kind: 'calls' | 'splits' | 'selects';
  from: string;
  to: string;
  /** calls: the service port called. */
  port?: number;
  /** splits: the weight of this backend in each TrafficSplit of the root (`matched`: the split applies only to requests that match). */
  weights?: Array<{ split: string; weight: number; matched: boolean }>;
  /** calls: the TrafficTargets that allow it (`ns/name`), if any. */
  allowedBy?: string[];
  /** calls: the golden metrics in the window; null where none were measured. */
  traffic?: EdgeTraffic | null;
}

export type GraphMetrics =
  | { status: 'ok'; source: string; windowSeconds: number | null; missing?: string[] }
  | { status: 'no-data'; source: string; reason: string };

export interface MeshGraph {
  generation: number;
  at: string;
  metrics: GraphMetrics;
  width: number;
  height: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export interface GraphInput {
  model: MeshModel | undefined;
  generation: number;
  metrics: GoldenMetrics;
  /** The name metrics give a workload (translate/telemetry.ts workloadLabel), injected: admin/ does not import translate/. */
  workloadName: (w: Pick<Workload, 'name' | 'labels'>) => string;
}

/** Room between columns for an edge's label (dashboard/static/app.js draws them): a call's two lines of figures, a split's weight. */
const LABEL_SPACE: Record<GraphEdge['kind'], number> = { calls: 160, splits: 70, selects: 0 };

const workloadId = (ns: string, name: string) => `workload:${ns}/${name}`;
const serviceId = (key: string) => `service:${key}`;

function trafficOf(e: EdgeStats): EdgeTraffic {
  return { requests: e.requests, successes: e.successes, failures: e.failures, successRate: e.successRate, rps: e.rps, latencyMs: e.latencyMs, tcp: e.tcp };
}

export function meshGraph(input: GraphInput): MeshGraph {
  const { model, metrics } = input;
  const nodes = new Map<string, Omit<GraphNode, keyof Placed>>();
  const edges = new Map<string, GraphEdge>();
  const workloadNode = (ns: string, name: string, inModel: boolean) => {
    const id = workloadId(ns, name);
    if (!nodes.has(id)) nodes.set(id, { id, kind: 'workload', namespace: ns, name, pods: [], identities: [], inModel });
    return nodes.get(id)!;
  };
  const serviceNode = (ns: string, name: string, inModel: boolean) => {
    const id = serviceId(`${ns}/${name}`);
    if (!nodes.has(id)) nodes.set(id, { id, kind: 'service', namespace: ns, name, ports: [], inModel });
    return nodes.get(id)!;
  };
  const callEdge = (from: string, to: string, port: number): GraphEdge => {
    const id = `${from}->${to}:${port}`;
    if (!edges.has(id)) edges.set(id, { id, kind: 'calls', from, to, port, traffic: null });
    return edges.get(id)!;
  };

  for (const s of model?.services.values() ?? []) serviceNode(s.namespace, s.name, true).ports = s.ports.map((p) => p.port);
  for (const w of model?.workloads.values() ?? []) {
    const n = workloadNode(w.namespace, input.workloadName(w), true);
    n.pods!.push(w.name);
    if (!n.identities!.includes(w.identity)) n.identities!.push(w.identity);
    for (const svc of w.services) {
      const to = n.id;
      const id = `${serviceId(svc)}->${to}`;
      if (model!.services.has(svc)) edges.set(id, { id, kind: 'selects', from: serviceId(svc), to });
    }
  }
  // One edge per root -> backend, with its weight in each split (a header canary and the default split share a backend).
  const splitsOf = new Map<string, Set<string>>();
  for (const split of [...(model?.splits.values() ?? [])].sort((a, b) => a.matches.length - b.matches.length || byCodePoint(a.key, b.key))) {
    for (const b of split.backends) {
      const [from, to] = [serviceId(split.service), serviceId(b.service)];
      const id = `${from}->${to}`;
      const e = edges.get(id) ?? { id, kind: 'splits', from, to, weights: [] };
      e.weights!.push({ split: split.key, weight: b.weight, matched: split.matches.length > 0 });
      edges.set(id, e);
      splitsOf.set(from, (splitsOf.get(from) ?? new Set()).add(to));
    }
  }
  // Calls a TrafficTarget allows: drawn even without traffic, so "no data" has an edge to sit on.
  for (const rule of model?.accessRules.values() ?? []) {
    const sources = new Set(rule.sources.map((s) => s.spiffeId));
    const callers = [...(model!.workloads.values())].filter((w) => sources.has(w.identity));
    const callees = [...model!.services.values()].filter((s) => s.identities.includes(rule.destination.spiffeId));
    for (const w of callers) {
      for (const s of callees) {
        for (const p of s.ports) {
          if (rule.destination.port !== undefined && rule.destination.port !== p.port) continue;
          const e = callEdge(workloadId(w.namespace, input.workloadName(w)), serviceId(s.key), p.port);
          e.allowedBy = [...new Set([...(e.allowedBy ?? []), rule.key])].sort();
        }
      }
    }
  }
  if (metrics.status === 'ok') {
    for (const e of metrics.edges) {
      if (e.requests === 0 && e.tcp.connections === 0) continue;
      const from = workloadNode(e.source.namespace, e.source.workload, false).id;
      const to = serviceNode(e.destination.namespace, e.destination.service, false).id;
      callEdge(from, to, e.destination.port).traffic = trafficOf(e);
    }
  }

  // A caller's allowed call to a split's root shows no traffic of its own (its sidecar counts each backend as
  // an edge): left out when the caller's traffic to the backends is drawn, so "no data" is not beside it.
  const measured = new Set([...edges.values()].filter((c) => c.kind === 'calls' && c.traffic).map((c) => `${c.from} ${c.to}`));
  for (const e of [...edges.values()]) {
    if (e.kind !== 'calls' || e.traffic || !splitsOf.has(e.to)) continue;
    if ([...splitsOf.get(e.to)!].some((backend) => measured.has(`${e.from} ${backend}`))) edges.delete(e.id);
  }

  const nodeList = [...nodes.values()].map((n) => (n.pods ? { ...n, pods: n.pods.toSorted(), identities: n.identities!.toSorted() } : n));
  const edgeList = [...edges.values()].toSorted((a, b) => byCodePoint(a.id, b.id));
  // A service that nothing calls and that only selects one workload (an entry point) is drawn above it.
  const degree = new Map<string, number>();
  for (const e of edgeList) for (const id of [e.from, e.to]) degree.set(id, (degree.get(id) ?? 0) + 1);
  const attach = (e: GraphEdge) => e.kind === 'selects' && degree.get(e.from) === 1;
  const placed = layoutGraph(nodeList, edgeList.map((e) => ({ from: e.from, to: e.to, space: LABEL_SPACE[e.kind], attach: attach(e) })));
  return {
    generation: input.generation,
    at: metrics.at,
    metrics:
      metrics.status === 'ok'
        ? { status: 'ok', source: metrics.source, windowSeconds: metrics.windowSeconds, ...(metrics.missing?.length ? { missing: metrics.missing } : {}) }
        : { status: 'no-data', source: metrics.source, reason: metrics.reason },
    width: placed.width,
    height: placed.height,
    nodes: nodeList.map((n) => ({ ...n, ...placed.at.get(n.id)! })).toSorted((a, b) => byCodePoint(a.id, b.id)),
    edges: edgeList,
  };
}
