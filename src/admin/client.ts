/**
 * The client side of the admin API, for commands that read a running Trellis
 * (`trellis status`, `trellis config-dump`). It turns every way the answer can
 * go wrong into one line an operator can act on (OperatorError: exit 1): no
 * server, something else answering, a node that is not connected.
 */
import { errorMessage, OperatorError, UsageError } from '../errors.ts';
import type { IntentOrigin } from './explain/explain.ts';
import type { ProxyConfigView, ProxySummary } from './proxies.ts';
import type { GoldenMetrics } from './golden/edges.ts';
import type { RolloutsAnswer } from './rollouts.ts';

export const DEFAULT_ADMIN = 'http://127.0.0.1:19000';

/** `http://h:p`, `https://h:p` or `h:p` (`--admin`) -> a base URL without trailing slash. */
export function adminBaseUrl(arg: string, usage?: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(arg) ? arg : `http://${arg}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`--admin ${arg}: expected a URL (http://host:port) or host:port`, usage);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--admin ${arg}: expected http:// or https://`, usage);
  return url.origin + url.pathname.replace(/\/+$/, '');
}

const CAUSES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'no such host',
  EHOSTUNREACH: 'host unreachable',
  ECONNRESET: 'connection reset',
};

/** fetch's "fetch failed" hides the reason in `cause`. */
function whyUnreachable(e: unknown): string {
  if (e instanceof Error && e.name === 'TimeoutError') return 'no answer within 5 s';
  const cause = e instanceof Error ? (e.cause as { code?: string } | undefined) : undefined;
  const code = cause?.code ?? '';
  return CAUSES[code] ?? (code || errorMessage(cause ?? e));
}

export interface Answer {
  status: number;
  body: unknown;
}

/**
 * Another way to GET a path of the admin API than fetch from this machine
 * (`trellis check` reaches each replica through the API server's pod proxy).
 * It answers the status and parsed JSON body, or throws an OperatorError
 * saying why the replica cannot be reached.
 */
export type AdminTransport = (path: string) => Promise<Answer>;

/** What one replica would serve a node, per type: resource name -> version (GET /api/v1/versions). */
export interface ServedVersions {
  node: string;
  generation: number;
  types: Record<string, Record<string, string>>;
}

export class AdminClient {
  /** `base` names the replica in messages; `transport`, when given, is how its paths are read. */
  constructor(
    readonly base: string,
    private readonly transport?: AdminTransport,
  ) {}

  private notTrellis(what: string): OperatorError {
    return new OperatorError(`${this.base} is not a Trellis admin API (${what}); point --admin at \`trellis serve\`'s --admin-address`);
  }

  /** GET `path`: its status and parsed JSON body; any answer that is not JSON is not Trellis. */
  private async get(path: string): Promise<Answer> {
    if (this.transport) return this.transport(path);
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { signal: AbortSignal.timeout(5000), headers: { accept: 'application/json' } });
    } catch (e) {
      throw new OperatorError(`no Trellis admin API at ${this.base}: ${whyUnreachable(e)}; is \`trellis serve\` running? --admin URL to point elsewhere`);
    }
    const type = res.headers.get('content-type') ?? 'no content type';
    const text = await res.text();
    if (!type.includes('application/json')) throw this.notTrellis(`GET ${path}: HTTP ${res.status}, ${type.split(';')[0]}`);
    try {
      return { status: res.status, body: JSON.parse(text) as unknown };
    } catch {
      throw this.notTrellis(`GET ${path}: HTTP ${res.status}, invalid JSON`);
    }
  }

  /** Every connected proxy, sorted by node id (GET /api/v1/proxies). */
  async proxies(): Promise<ProxySummary[]> {
    const { status, body } = await this.get('/api/v1/proxies');
    const proxies = (body as { proxies?: unknown }).proxies;
    if (status !== 200 || !Array.isArray(proxies) || !proxies.every((p) => typeof (p as { sync?: unknown }).sync === 'object')) {
      throw this.notTrellis(`GET /api/v1/proxies: HTTP ${status}, no proxy list with sync states`);
    }
    return proxies as ProxySummary[];
  }

  /** What `node` was last sent (GET /api/v1/proxies/{node}/config); an unknown node names the known ones. */
  async proxyConfig(node: string): Promise<ProxyConfigView> {
    const { status, body } = await this.get(`/api/v1/proxies/${encodeURIComponent(node)}/config`);
    if (status === 200 && typeof (body as { types?: unknown }).types === 'object') return body as ProxyConfigView;
    if (status !== 404) throw this.notTrellis(`GET /api/v1/proxies/…/config: HTTP ${status}`);
    // A 404 from Trellis means not connected; the list tells the operator what is.
    const known = (await this.proxies()).map((p) => p.node);
    const listing = known.length === 0 ? 'no proxy is connected' : `connected: ${known.join(', ')}`;
    throw new OperatorError(`no proxy "${node}" is connected to ${this.base} (${listing})`);
  }

  /** What this replica would serve `proxy` now (GET /api/v1/versions), whether or not it is connected here. */
  async versions(proxy: Pick<ProxySummary, 'node' | 'userAgentName' | 'locality' | 'metadata'>): Promise<ServedVersions> {
    const node = JSON.stringify({ node: proxy.node, userAgentName: proxy.userAgentName, locality: proxy.locality, metadata: proxy.metadata });
    const { status, body } = await this.get(`/api/v1/versions?node=${encodeURIComponent(node)}`);
    if (status === 200 && typeof (body as { types?: unknown }).types === 'object') return body as ServedVersions;
    const error = (body as { error?: unknown }).error;
    if (status === 404) throw new OperatorError(`${this.base} has no GET /api/v1/versions: an older Trellis (every replica must run the same version)`);
    throw new OperatorError(`${this.base}: GET /api/v1/versions: HTTP ${status}${typeof error === 'string' ? `: ${error}` : ''}`);
  }

  /** Every intent with its origin (GET /api/v1/intents): where each object was written. */
  async intents(): Promise<IntentOrigin[]> {
    const { status, body } = await this.get('/api/v1/intents');
    const intents = (body as { intents?: unknown }).intents;
    if (status !== 200 || !Array.isArray(intents)) throw this.notTrellis(`GET /api/v1/intents: HTTP ${status}, no intent list`);
    return intents as IntentOrigin[];
  }

  /** Every accepted Rollout and its progress (GET /api/v1/rollouts). */
  async rollouts(): Promise<RolloutsAnswer> {
    const { status, body } = await this.get('/api/v1/rollouts');
    if (status === 404) throw new OperatorError(`${this.base} has no GET /api/v1/rollouts: a Trellis without a mesh, or an older one`);
    if (status !== 200 || !Array.isArray((body as { rollouts?: unknown }).rollouts)) throw this.notTrellis(`GET /api/v1/rollouts: HTTP ${status}, no rollout list`);
    return body as RolloutsAnswer;
  }

  /** Golden metrics per edge (GET /api/v1/metrics/edges): `query` as its query string (window, namespace, workload, route). */
  async goldenMetrics(query: Record<string, string>): Promise<GoldenMetrics> {
    const path = `/api/v1/metrics/edges?${new URLSearchParams(query).toString()}`;
    const { status, body } = await this.get(path);
    if (status === 400) throw new UsageError((body as { error?: string }).error ?? `GET ${path}: HTTP 400`);
    const s = (body as { status?: unknown }).status;
    if (status !== 200 || (s !== 'ok' && s !== 'no-data')) throw this.notTrellis(`GET /api/v1/metrics/edges: HTTP ${status}, no golden metrics`);
    return body as GoldenMetrics;
  }
}
