/**
 * Raw JSON requests to the API server, authenticated from a KubeConfig the way
 * @kubernetes/client-node's own Watch does (its RequestContext and HTTP
 * library, so TLS, tokens and exec plugins behave identically).
 *
 * Why not the generated typed clients: they deserialize into model classes
 * (timestamps become Dates, unknown fields are dropped), and list items would
 * then differ in shape from the watch events, which arrive as plain JSON. The
 * model reads objects exactly as the operator wrote them, so every object
 * stays plain JSON from the wire to the model.
 */
import { HttpMethod, IsomorphicFetchHttpLibrary, RequestContext, type KubeConfig } from '@kubernetes/client-node';

export type Json = Record<string, unknown>;

/** A non-2xx answer; `status` is the HTTP code (404 unknown kind, 409 conflict, 410 gone). */
export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    readonly body: Json | undefined,
  ) {
    super(`${method} ${path}: HTTP ${status}${typeof body?.message === 'string' ? `: ${body.message}` : ''}`);
    this.name = 'KubeApiError';
  }

  /** The 'reason' of a metav1.Status body (NotFound, AlreadyExists, Conflict, Expired...). */
  get reason(): string | undefined {
    return typeof this.body?.reason === 'string' ? this.body.reason : undefined;
  }
}

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

export class KubeRest {
  private readonly http = new IsomorphicFetchHttpLibrary();

  constructor(
    readonly config: KubeConfig,
    private readonly timeoutMs = 30_000,
  ) {}

  get server(): string {
    const cluster = this.config.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    return cluster.server.replace(/\/$/, '');
  }

  get<T = Json>(path: string, query?: Record<string, string>): Promise<T> {
    return this.request<T>('GET', path, undefined, { query });
  }

  post<T = Json>(path: string, body: unknown, query?: Record<string, string>): Promise<T> {
    return this.request<T>('POST', path, body, { query });
  }

  put<T = Json>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }

  patch<T = Json>(path: string, body: unknown, type: PatchType = 'merge', query?: Record<string, string>): Promise<T> {
    return this.request<T>('PATCH', path, body, { contentType: PATCH_CONTENT_TYPES[type], query });
  }

  delete<T = Json>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }

  async request<T>(method: keyof typeof HttpMethod, path: string, body?: unknown, opts: { contentType?: string; query?: Record<string, string> } = {}): Promise<T> {
    return (await this.exchange<T>(method, path, body, opts)).body;
  }

  /** GET with the answer's headers (`trellis check` compares the Date header with this machine's clock). */
  getWithHeaders<T = Json>(path: string): Promise<{ body: T; headers: Record<string, string> }> {
    return this.exchange<T>('GET', path);
  }

  /** POST with the answer's headers (`trellis check` reads admission webhooks' Warning headers). */
  postWithHeaders<T = Json>(path: string, body: unknown, query?: Record<string, string>): Promise<{ body: T; headers: Record<string, string> }> {
    return this.exchange<T>('POST', path, body, { query });
  }

  private async exchange<T>(method: keyof typeof HttpMethod, path: string, body?: unknown, opts: { contentType?: string; query?: Record<string, string> } = {}): Promise<{ body: T; headers: Record<string, string> }> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const ctx = new RequestContext(url.toString(), HttpMethod[method]);
    ctx.setHeaderParam('Accept', 'application/json');
    if (body !== undefined) {
      ctx.setHeaderParam('Content-Type', opts.contentType ?? 'application/json');
      ctx.setBody(typeof body === 'string' ? body : JSON.stringify(body));
    }
    ctx.setSignal(AbortSignal.timeout(this.timeoutMs));
    await this.config.applySecurityAuthentication(ctx);
    const res = await this.http.send(ctx).toPromise();
    const text = await res.body.text();
    let parsed: Json | undefined;
    try {
      parsed = text ? (JSON.parse(text) as Json) : undefined;
    } catch {
      parsed = { message: text.slice(0, 500) };
    }
    if (res.httpStatusCode < 200 || res.httpStatusCode >= 300) throw new KubeApiError(res.httpStatusCode, method, path, parsed);
    return { body: parsed as T, headers: res.headers };
  }
}
