/**
 * Pipeline-test plumbing: a real `trellis serve --source file:<dir>` on
 * ephemeral ports, fed YAML written into a temp folder the way an operator
 * writes it, and xDS clients that behave like the real ones on a raw ADS
 * stream — an Envoy sidecar (CDS and LDS wildcard, then EDS and RDS for what
 * those name) or a proxyless gRPC client (LDS by name, then RDS, CDS, EDS).
 * Every response is ACKed and folded into a per-type view the test reads.
 */
import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import type { NodeInfo } from '../../src/xds/wire.ts';
import { TypeUrl } from '../../src/xds/type-urls.ts';
import { XdsTestClient, type SotwResponseView, type SotwStream } from './ads-client.ts';

export const { Cluster: CDS, Endpoint: EDS, Listener: LDS, Route: RDS } = TypeUrl;
export const SHORT: Record<string, 'cds' | 'eds' | 'lds' | 'rds' | 'sds'> = {
  [TypeUrl.Cluster]: 'cds',
  [TypeUrl.Endpoint]: 'eds',
  [TypeUrl.Listener]: 'lds',
  [TypeUrl.Route]: 'rds',
  [TypeUrl.Secret]: 'sds',
};

/** Relative file name → YAML text. */
export type YamlFiles = Record<string, string>;
type Resource = Record<string, any>; // decoded proto JSON: tests walk it freely

/** Node.metadata as it travels: a google.protobuf.Struct (what bootstraps become on the wire). */
export function structOf(values: Record<string, string>): Record<string, unknown> {
  return { fields: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, { stringValue: v }])) };
}

/** An Envoy sidecar's node: user_agent_name "envoy", the workload in metadata (or in the id). */
export function sidecarNode(id: string, workload?: string, extra: Record<string, string> = {}): NodeInfo {
  const md = { ...(workload ? { 'trellis.workload': workload } : {}), ...extra };
  return { id, cluster: 'pipeline', user_agent_name: 'envoy', locality: { zone: 'z1' }, metadata: structOf(md) };
}

/** A proxyless gRPC client's node (user agent is the gRPC library). */
export function grpcNode(id: string, workload?: string): NodeInfo {
  return { id, cluster: 'pipeline', user_agent_name: 'grpc-node-js', locality: { zone: 'z1' }, metadata: structOf(workload ? { 'trellis.workload': workload } : {}) };
}

export interface IntentStatus {
  kind: string;
  namespace: string;
  name: string;
  generation?: number;
  servedGeneration?: number;
  origin?: { file: string; line: number };
  conditions: Array<{ type: string; status: string; reason: string; message: string }>;
  problems: Array<{ severity: string; reason: string; file?: string; line?: number; field: string; message: string }>;
}
export interface IntentsView {
  generation: number;
  sourceErrors: Array<{ file: string; line: number; message: string; field?: string }>;
  intents: IntentStatus[];
}

export class MeshHarness {
  readonly client: XdsTestClient;
  private readonly proxies: ProxyView[] = [];

  private constructor(
    readonly dir: string,
    readonly server: RunningControlPlane,
  ) {
    this.client = new XdsTestClient(`127.0.0.1:${server.xdsPort}`);
  }

  static async start(files: YamlFiles, opts: { debounceMs?: number } = {}): Promise<MeshHarness> {
    const dir = mkdtempSync(path.join(tmpdir(), 'trellis-pipeline-'));
    for (const [name, text] of Object.entries(files)) writeYaml(dir, name, text);
    const server = await startControlPlane({ xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', sourceDir: dir, reloadDebounceMs: opts.debounceMs ?? 30 });
    return new MeshHarness(dir, server);
  }

  get generation(): number {
    return this.server.mesh!.generation;
  }

  /** Writes files (atomically, as editors do) and applies them now. */
  async write(files: YamlFiles): Promise<void> {
    for (const [name, text] of Object.entries(files)) writeYaml(this.dir, name, text);
    await this.server.mesh!.flush();
  }

  async remove(name: string): Promise<void> {
    unlinkSync(path.join(this.dir, name));
    await this.server.mesh!.flush();
  }

  pathOf(name: string): string {
    return path.join(this.dir, name);
  }

  async intents(all = false): Promise<IntentsView> {
    const res = await fetch(`http://127.0.0.1:${this.server.adminPort}/api/v1/intents${all ? '?all=true' : ''}`, { signal: AbortSignal.timeout(5000) });
    if (res.status !== 200) throw new Error(`/api/v1/intents: HTTP ${res.status}`);
    return (await res.json()) as IntentsView;
  }

  /** Connects an Envoy-like sidecar and waits for its first full config. */
  async sidecar(node: NodeInfo): Promise<ProxyView> {
    const p = new ProxyView(this.client.sotw(), node, 'envoy');
    this.proxies.push(p);
    await p.start();
    return p;
  }

  /** Connects a gRPC-like client asking for these listener names; waits for its config. */
  async proxyless(node: NodeInfo, listeners: string[]): Promise<ProxyView> {
    const p = new ProxyView(this.client.sotw(), node, 'grpc', listeners);
    this.proxies.push(p);
    await p.start();
    return p;
  }

  async close(): Promise<void> {
    for (const p of this.proxies) p.close();
    this.client.close();
    await this.server.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Write-then-rename, so the watcher never sees half a file. */
export function writeYaml(dir: string, name: string, text: string): void {
  const file = path.join(dir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/**
 * One proxy on one ADS stream. SotW semantics: CDS and LDS responses carry the
 * full set; EDS and RDS responses may carry only changed resources, so those
 * are merged into what the proxy holds.
 */
export class ProxyView {
  readonly held: Record<'cds' | 'eds' | 'lds' | 'rds', Map<string, Resource>> = { cds: new Map(), eds: new Map(), lds: new Map(), rds: new Map() };
  /** Every response received, in order, by short type name. */
  readonly log: Array<{ type: string; names: string[] }> = [];
  private readonly subscribed = new Map<string, string[]>();

  constructor(
    private readonly stream: SotwStream,
    private readonly node: NodeInfo,
    private readonly kind: 'envoy' | 'grpc',
    private readonly listenerNames: string[] = [],
  ) {}

  async start(): Promise<void> {
    if (this.kind === 'envoy') {
      this.subscribe(CDS, [], true);
      this.subscribe(LDS, []);
    } else {
      this.subscribe(LDS, this.listenerNames, true);
    }
    // The first answer may take a while (a cold process compiles its codecs);
    // after it, the rest of the config follows quickly.
    await this.settle(250, 5000);
  }

  private subscribe(type: string, names: string[], withNode = false): void {
    this.subscribed.set(type, names);
    this.stream.send({ ...(withNode ? { node: this.node } : {}), type_url: type, resource_names: names });
  }

  /**
   * Reads, ACKs and applies responses until the stream is quiet for `quietMs`
   * (with `firstWithinMs`: waits that long for the first one, and fails without it);
   * follows references (EDS for the clusters, RDS for the listeners, and for
   * gRPC CDS for the routes) like the real client would. Returns what arrived.
   */
  async settle(quietMs = 250, firstWithinMs?: number): Promise<Array<{ type: string; names: string[] }>> {
    const got: Array<{ type: string; names: string[] }> = [];
    for (;;) {
      let r: SotwResponseView;
      try {
        r = await this.stream.next(got.length === 0 && firstWithinMs !== undefined ? firstWithinMs : quietMs);
      } catch (err) {
        if (got.length === 0 && firstWithinMs !== undefined) throw new Error(`${this.node.id}: no response within ${firstWithinMs} ms (${(err as Error).message})`);
        return got;
      }
      const type = SHORT[r.type_url]!;
      const entry = { type, names: r.names.toSorted() };
      got.push(entry);
      this.log.push(entry);
      this.apply(r);
      this.stream.ack(r, this.subscribed.get(r.type_url) ?? []);
      this.follow();
    }
  }

  /** True if nothing arrives within `ms`. */
  silentFor(ms: number): Promise<boolean> {
    return this.stream.silentFor(ms);
  }

  private apply(r: SotwResponseView): void {
    const type = SHORT[r.type_url] as keyof ProxyView['held'] | 'sds';
    if (type === 'sds') return;
    const map = this.held[type];
    if (type === 'cds' || type === 'lds') map.clear();
    r.resources.forEach((res, i) => map.set(r.names[i]!, res.value as Resource));
  }

  private follow(): void {
    const want = (type: string, names: string[]) => {
      const sorted = [...new Set(names)].sort();
      const had = this.subscribed.get(type);
      if (had && JSON.stringify(had) === JSON.stringify(sorted)) return;
      if (!had && sorted.length === 0) return;
      this.subscribe(type, sorted);
    };
    // gRPC picks the virtual host whose domains match its target, and watches only its clusters.
    if (this.kind === 'grpc') want(CDS, [...this.held.rds.values()].flatMap((rc) => clustersOfRoute(rc, this.listenerNames)));
    want(EDS, [...this.held.cds.values()].filter((c) => c.type === 'EDS').map((c) => c.eds_cluster_config?.service_name || c.name));
    want(RDS, [...this.held.lds.values()].flatMap(routeNamesOfListener));
  }

  cluster(name: string): Resource {
    const c = this.held.cds.get(name);
    if (!c) throw new Error(`no cluster ${name}; held: ${[...this.held.cds.keys()].join(', ')}`);
    return c;
  }

  endpoints(name: string): Resource {
    const e = this.held.eds.get(name);
    if (!e) throw new Error(`no endpoints ${name}; held: ${[...this.held.eds.keys()].join(', ')}`);
    return e;
  }

  listener(name: string): Resource {
    const l = this.held.lds.get(name);
    if (!l) throw new Error(`no listener ${name}; held: ${[...this.held.lds.keys()].join(', ')}`);
    return l;
  }

  /** The outbound virtual host whose domains include `host`. */
  virtualHost(host: string, route = 'outbound'): Resource {
    const rc = this.held.rds.get(route);
    if (!rc) throw new Error(`no route configuration ${route}`);
    const vh = (rc.virtual_hosts as Resource[]).find((v) => (v.domains as string[]).includes(host));
    if (!vh) throw new Error(`no virtual host for ${host} in ${route}`);
    return vh;
  }

  names(type: keyof ProxyView['held']): string[] {
    return [...this.held[type].keys()].sort();
  }

  close(): void {
    this.stream.close();
  }
}

function clustersOfRoute(rc: Resource, hosts: readonly string[]): string[] {
  const out: string[] = [];
  for (const vh of rc.virtual_hosts ?? []) {
    if (!(vh.domains as string[]).some((d) => hosts.includes(d))) continue;
    for (const r of vh.routes ?? []) {
      if (r.route?.cluster) out.push(r.route.cluster);
      for (const w of r.route?.weighted_clusters?.clusters ?? []) out.push(w.name);
    }
  }
  return out;
}

function routeNamesOfListener(l: Resource): string[] {
  const hcms: Resource[] = [];
  if (l.api_listener?.api_listener) hcms.push(l.api_listener.api_listener);
  for (const fc of l.filter_chains ?? []) for (const f of fc.filters ?? []) if (f.typed_config) hcms.push(f.typed_config);
  return hcms.flatMap((h) => (h.rds?.route_config_name ? [h.rds.route_config_name] : []));
}
