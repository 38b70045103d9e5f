/**
 * Admin HTTP: health, readiness, Prometheus metrics and the JSON API. Other
 * layers add read-only routes (intents, certificates) with `route()`.
 */
import http from 'node:http';
import type { Logger } from '../log.ts';
import type { XdsServer } from '../server/xds-server.ts';
import { listProxies, proxyConfig } from './proxies.ts';

export type JsonHandler = (params: Record<string, string>, url: URL) => unknown | Promise<unknown>;

interface Route {
  pattern: RegExp;
  keys: string[];
  handler: JsonHandler;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Something served that is not what the source says now, while config is
 * still served (so /readyz stays 200 and names it). `condition` is a stable
 * name operators and alerts can match; see docs/operate.md, "Last good
 * config and readiness".
 */
export const DEGRADED_CONDITIONS = [
  'SourceRootMissing', // the watched folder is gone: the last config is kept
  'FileUnusable', // a file cannot be read or parsed: its last good objects are kept (or none)
  'ServedFromLastGood', // an object's current version is rejected: its last good version is served
  'LastGoodNotPersisted', // the last good copies could not be written to the state dir
  'PipelineFailing', // building or publishing throws (a bug): the last published mesh is served
  'TrustDomainHeld', // the source asks for another trust domain than the CA's: kept until a restart
  'UntrustedRoot', // proxies recently refused the xDS TLS handshake: they trust another root (a lost state dir?)
] as const;

export interface DegradedState {
  condition: (typeof DEGRADED_CONDITIONS)[number];
  message: string;
  file?: string;
  /** When it began (epoch ms), if known. */
  sinceMs?: number;
}

export interface AdminOptions {
  xds: XdsServer;
  log: Logger;
  /**
   * Ready when this returns null; otherwise why not. Not ready means a proxy
   * that connects now would get no config or an error: a Kubernetes Service
   * then sends it to another replica.
   */
  notReadyReason: () => string | null;
  /** Ready but serving something other than what the source says now; each is named in /readyz's body. */
  degraded?: () => DegradedState[];
}

export class AdminServer {
  private readonly routes: Route[] = [];
  /** Fixed documents (the dashboard's page, script and style) by exact path. */
  private readonly assets = new Map<string, { type: string; body: string }>();
  private server?: http.Server;

  constructor(private readonly opts: AdminOptions) {
    this.route('/api/v1/proxies', () => ({ proxies: listProxies(opts.xds) }));
    this.route('/api/v1/proxies/:node/config', ({ node }) => {
      const config = proxyConfig(opts.xds, node!);
      if (!config) throw new HttpError(404, `no proxy "${node}" is connected`);
      return config;
    });
  }

  /** `/api/v1/things/:name` style paths. */
  route(path: string, handler: JsonHandler): void {
    const keys: string[] = [];
    const pattern = new RegExp(
      '^' +
        path.replace(/:([a-zA-Z]+)/g, (_m, k: string) => {
          keys.push(k);
          return '([^/]+)';
        }) +
        '/?$',
    );
    this.routes.push({ pattern, keys, handler });
  }

  /** A fixed document at `path` (e.g. text/html), served as is. */
  asset(path: string, type: string, body: string): void {
    this.assets.set(path, { type, body });
  }

  listen(address: string): Promise<{ host: string; port: number }> {
    const { host, port } = splitHostPort(address);
    this.server = http.createServer((req, res) => void this.handle(req, res));
    return new Promise((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => {
        const a = this.server!.address();
        resolve({ host, port: typeof a === 'object' && a ? a.port : port });
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const send = (status: number, body: string, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    try {
      if (req.method !== 'GET') return send(405, JSON.stringify({ error: 'the admin API is read-only; use GET' }));
      if (url.pathname === '/healthz') return send(200, JSON.stringify({ status: 'ok' }));
      if (url.pathname === '/readyz') {
        // 503 only when serving is impossible; a degraded replica still serves the last good
        // config, and taking it out of its Service would cut off every new proxy (docs/operate.md).
        const reason = this.opts.notReadyReason();
        const degraded = this.opts.degraded?.() ?? [];
        const status = reason ? 'not ready' : degraded.length > 0 ? 'degraded' : 'ready';
        return send(reason ? 503 : 200, JSON.stringify({ status, ...(reason ? { reason } : {}), degraded }, null, 2));
      }
      if (url.pathname === '/metrics') {
        const reg = this.opts.xds.metrics.registry;
        return send(200, await reg.metrics(), reg.contentType);
      }
      const asset = this.assets.get(url.pathname);
      if (asset) return send(200, asset.body, asset.type);
      for (const r of this.routes) {
        const m = r.pattern.exec(url.pathname);
        if (!m) continue;
        const params: Record<string, string> = {};
        r.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1]!)));
        return send(200, JSON.stringify(await r.handler(params, url), null, 2));
      }
      send(404, JSON.stringify({ error: `no such endpoint ${url.pathname}` }));
    } catch (e) {
      if (e instanceof HttpError) return send(e.status, JSON.stringify({ error: e.message }));
      this.opts.log.error({ err: e, path: url.pathname }, 'admin handler failed');
      send(500, JSON.stringify({ error: 'internal error (logged)' }));
    }
  }
}

export function splitHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  if (i < 0) throw new Error(`address "${address}" must be host:port`);
  const host = address.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`address "${address}": port must be 0–65535`);
  return { host: host || '0.0.0.0', port };
}
