/**
 * The checks of `trellis check` that read the Trellis replicas themselves:
 * "replicas agree on versions" and "proxies in sync".
 *
 * How check reaches each replica: every `--admin URL` given is one replica
 * (local runs, port-forwards); without one, in a cluster, each running pod
 * of the Trellis Deployment through the API server's pod proxy
 * (`/api/v1/namespaces/NS/pods/POD:http-admin/proxy/...`), since the
 * Service in front of them answers from one replica at a time and the
 * operator's machine cannot reach pod IPs.
 *
 * Agreement: a proxy talks to one replica, but any replica may get it after
 * a reconnect, so every replica is asked what it would serve every proxy
 * that any of them lists (GET /api/v1/versions: resource name -> content-hash
 * version, per type). Same input, same versions; a difference means the
 * replicas do not see the same mesh (a watch behind, another folder, another
 * Trellis version). Secrets are not compared: each replica issues its own
 * leaf certificates.
 */
import { AdminClient, adminBaseUrl, type AdminTransport, type ServedVersions } from '../admin/client.ts';
import type { ProxySummary } from '../admin/proxies.ts';
import { errorMessage, OperatorError, UsageError } from '../errors.ts';
import { KubeApiError, type KubeRest } from '../sources/kubernetes/rest.ts';
import type { Outcome } from './check-cluster.ts';
import { type Json } from './install-manifests.ts';

export interface Replica {
  /** how it is named in facts: its URL, or "pod NAME" */
  name: string;
  client: AdminClient;
}

/** The admin port's name in deploy/kubernetes/20-deployment.yaml, and serve's default admin port. */
const ADMIN_PORT_NAME = 'http-admin';
const DEFAULT_ADMIN_PORT = 19000;
/** At most this many proxies are compared (each one costs a translation per replica). */
const MAX_COMPARED = 200;
/** At most this many disagreements are listed in the fact. */
const MAX_LISTED = 5;

export function replicasFromUrls(urls: readonly string[], usage: string): Replica[] {
  return urls.map((u) => {
    const base = adminBaseUrl(u, usage);
    return { name: base, client: new AdminClient(base) };
  });
}

/** GET through the API server's pod proxy; Trellis's own answers (JSON with `error`) pass through as answers. */
function podProxy(rest: KubeRest, namespace: string, pod: string, port: string | number): AdminTransport {
  const base = `/api/v1/namespaces/${namespace}/pods/${pod}:${port}/proxy`;
  return async (path) => {
    try {
      return { status: 200, body: await rest.get<unknown>(`${base}${path}`) };
    } catch (e) {
      if (e instanceof KubeApiError && e.body && typeof e.body.error === 'string') return { status: e.status, body: e.body };
      const why = e instanceof KubeApiError && typeof e.body?.message === 'string' ? e.body.message : errorMessage(e);
      throw new OperatorError(`cannot reach pod ${namespace}/${pod} (admin port ${port}) through the API server: ${why}`);
    }
  };
}

/** The running Trellis pods of `namespace`, each reached through the pod proxy; and the ones left out, with why. */
export async function replicasInCluster(rest: KubeRest, namespace: string): Promise<{ replicas: Replica[]; notRunning: string[] }> {
  const pods = ((await rest.get<Json>(`/api/v1/namespaces/${namespace}/pods`, { labelSelector: 'app.kubernetes.io/name=trellis' })).items ?? []) as Json[];
  const replicas: Replica[] = [];
  const notRunning: string[] = [];
  for (const p of pods.toSorted((a, b) => String((a.metadata as Json).name).localeCompare(String((b.metadata as Json).name)))) {
    const name = String((p.metadata as Json).name);
    const status = (p.status ?? {}) as Json;
    if (status.phase !== 'Running' || !status.podIP) {
      notRunning.push(`pod ${name} ${String(status.phase ?? 'Pending')}`);
      continue;
    }
    const ports = (((p.spec as Json).containers ?? []) as Json[]).flatMap((c) => (c.ports ?? []) as Json[]);
    const port = ports.find((x) => x.name === ADMIN_PORT_NAME)?.containerPort ?? DEFAULT_ADMIN_PORT;
    replicas.push({ name: `pod ${name}`, client: new AdminClient(`pod ${namespace}/${name}`, podProxy(rest, namespace, name, Number(port))) });
  }
  return { replicas, notRunning };
}

/** Every replica's proxy list, or the first failure to read one. */
async function proxyLists(replicas: readonly Replica[]): Promise<Map<Replica, ProxySummary[]>> {
  const lists = new Map<Replica, ProxySummary[]>();
  for (const r of replicas) lists.set(r, await r.client.proxies());
  return lists;
}

function unreachable(e: unknown, replicas: readonly Replica[]): Outcome {
  if (e instanceof UsageError) throw e;
  return { ok: false, fact: errorMessage(e), fix: replicas.length > 1 || !replicas[0]?.name.startsWith('pod ') ? 'point --admin at each running Trellis admin API' : '`kubectl -n NS logs POD` of the replica named' };
}

export async function proxiesInSync(replicas: readonly Replica[], skippedWhy: string): Promise<Outcome> {
  if (replicas.length === 0) return { ok: true, skipped: true, fact: `skipped: ${skippedWhy}` };
  let lists: Map<Replica, ProxySummary[]>;
  try {
    lists = await proxyLists(replicas);
  } catch (e) {
    return unreachable(e, replicas);
  }
  const where = (r: Replica) => (replicas.length > 1 ? ` on ${r.name}` : '');
  const all = [...lists].flatMap(([r, ps]) => ps.map((p) => ({ r, p })));
  const behind = all.filter(({ p }) => Object.values(p.sync).some((s) => s.state !== 'SYNCED'));
  const of = replicas.length > 1 ? ` (${replicas.length} replicas)` : '';
  if (behind.length === 0) return { ok: true, fact: `${all.length} ${all.length === 1 ? 'proxy' : 'proxies'}${of}, all in sync` };
  const which = behind.slice(0, 10).map(({ r, p }) => `${p.node}${where(r)} (${Object.entries(p.sync).filter(([, s]) => s.state !== 'SYNCED').map(([t, s]) => `${t.toUpperCase()} ${s.state}`).join(', ')})`);
  return { ok: false, fact: `${behind.length} of ${all.length}${of} not in sync: ${which.join('; ')}${behind.length > 10 ? '; ...' : ''}`, fix: '`trellis status --admin URL` for the NACK messages' };
}

const short = (v: string) => v.slice(0, 12);

/** One type's difference between what replicas serve: per replica, the resources whose version is not everyone's. */
function typeDifference(served: ReadonlyMap<Replica, Record<string, string>>): string | undefined {
  const names = new Set([...served.values()].flatMap((m) => Object.keys(m)));
  const differing = [...names].sort().filter((n) => new Set([...served.values()].map((m) => m[n] ?? '')).size > 1);
  if (differing.length === 0) return undefined;
  const shown = differing.slice(0, 3);
  return [...served]
    .map(([r, m]) => `${r.name} serves ${shown.map((n) => `${n}${m[n] ? `@${short(m[n]!)}` : ' (none)'}`).join(', ')}${differing.length > shown.length ? ` and ${differing.length - shown.length} more` : ''}`)
    .join('; ');
}

export async function replicasAgree(replicas: readonly Replica[], skippedWhy: string): Promise<Outcome> {
  if (replicas.length < 2) return { ok: true, skipped: true, fact: `skipped: ${replicas.length === 0 ? skippedWhy : `one replica (${replicas[0]!.name}): nothing to compare`}` };
  let proxies: ProxySummary[];
  const answers = new Map<string, Map<Replica, ServedVersions>>();
  try {
    const lists = await proxyLists(replicas);
    const byNode = new Map<string, ProxySummary>();
    for (const ps of lists.values()) for (const p of ps) if (!byNode.has(p.node)) byNode.set(p.node, p);
    proxies = [...byNode.values()].sort((a, b) => a.node.localeCompare(b.node)).slice(0, MAX_COMPARED);
    for (const p of proxies) {
      const per = new Map<Replica, ServedVersions>();
      for (const r of replicas) per.set(r, await r.client.versions(p));
      answers.set(p.node, per);
    }
  } catch (e) {
    return unreachable(e, replicas);
  }
  if (proxies.length === 0) return { ok: true, fact: `${replicas.length} replicas, no proxy connected to any: nothing to compare yet` };
  const disagreements: string[] = [];
  for (const [node, per] of answers) {
    const types = [...new Set([...per.values()].flatMap((v) => Object.keys(v.types)))].sort();
    for (const t of types) {
      const diff = typeDifference(new Map([...per].map(([r, v]) => [r, v.types[t] ?? {}])));
      if (diff) disagreements.push(`${node} ${t.toUpperCase()}: ${diff}`);
    }
  }
  const counted = `${proxies.length} ${proxies.length === 1 ? 'proxy' : 'proxies'}${proxies.length === MAX_COMPARED ? ` (the first ${MAX_COMPARED})` : ''}`;
  if (disagreements.length === 0) return { ok: true, fact: `${replicas.length} replicas serve the same versions to ${counted} (CDS, EDS, LDS, RDS)` };
  return {
    ok: false,
    fact: `${disagreements.length} disagreements over ${counted}: ${disagreements.slice(0, MAX_LISTED).join(' | ')}${disagreements.length > MAX_LISTED ? ' | ...' : ''}`,
    fix: 'the replicas do not see the same mesh: compare `trellis status`, /readyz (a source behind or degraded) and the Trellis version of each; a proxy reconnecting to another replica would get other config',
  };
}
