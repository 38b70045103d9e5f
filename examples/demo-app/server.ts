/**
 * The demo application: a tiny HTTP server that answers with its name, its
 * version, who called it (the SPIFFE ID its sidecar verified, from
 * x-forwarded-client-cert) and, if it has an upstream, the upstream's answer
 * fetched through its own sidecar's outbound listener.
 *
 *   node --import tsx examples/demo-app/server.ts --name recommendation --version v1 \
 *     --listen 127.0.0.3:18080 --upstream-host ratings.demo:8080 --via 127.0.0.3:15001
 */
import http from 'node:http';

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const name = arg('name', 'app')!;
const version = arg('version', 'v1')!;
const listen = arg('listen', '127.0.0.1:18080')!;
const upstreamHost = arg('upstream-host');
const via = arg('via');
/** Fail this share of requests with 503 (for retry demonstrations). */
let failRatio = Number(arg('fail-ratio', '0'));
let served = 0;

/** `By=...;Hash=...;URI=spiffe://...` → the URI of the verified client certificate. */
function callerOf(xfcc: string | undefined): string | null {
  const m = /(?:^|;|,)URI=([^;,]+)/.exec(xfcc ?? '');
  return m ? m[1]! : null;
}

/**
 * Headers an application in the mesh passes on from the request it serves to
 * the calls it makes for it: the W3C trace context and Envoy's request id, so
 * its sidecars' spans join the caller's trace (docs/telemetry.md), and the
 * demo's canary header and fault header (examples/demo/README.md: a fault
 * with `headers: {x-chaos: "on"}` is injected by the caller's sidecar, so the
 * header must be on the call).
 */
const FORWARDED = ['traceparent', 'tracestate', 'x-request-id', 'x-canary', 'x-chaos'] as const;

function forwarded(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of FORWARDED) {
    const v = headers[h];
    if (typeof v === 'string') out[h] = v;
  }
  return out;
}

function callUpstream(headers: http.IncomingHttpHeaders): Promise<unknown> {
  const [host, port] = via!.split(':');
  return new Promise((resolve) => {
    const req = http.request(
      {
        host,
        port: Number(port),
        path: '/',
        method: 'GET',
        headers: { host: upstreamHost, ...forwarded(headers) },
        timeout: 5000,
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode, ...(JSON.parse(body) as object) });
          } catch {
            resolve({ status: res.statusCode, body: body.slice(0, 200) });
          }
        });
      },
    );
    req.on('error', (e) => resolve({ status: 0, error: e.message }));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

const server = http.createServer(async (req, res) => {
  if (req.url?.startsWith('/control/fail')) {
    failRatio = Number(new URL(req.url, 'http://x').searchParams.get('ratio') ?? '0');
    res.end(JSON.stringify({ failRatio }));
    return;
  }
  served++;
  if (failRatio > 0 && (served % Math.round(1 / failRatio) === 0 || failRatio >= 1)) {
    res.writeHead(503, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ service: name, version, error: 'failing on purpose' }));
    return;
  }
  const body: Record<string, unknown> = { service: name, version, caller: callerOf(req.headers['x-forwarded-client-cert'] as string | undefined) };
  if (upstreamHost && via) body.upstream = await callUpstream(req.headers);
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body) + '\n');
});

const [host, port] = listen.split(':');
server.listen(Number(port), host, () => process.stdout.write(`${name} ${version} listening on ${listen}\n`));
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => server.close(() => process.exit(0)));
