/**
 * Plumbing for the CLI tests that read a running Trellis's admin API
 * (status, config-dump): a port nothing listens on, an HTTP server that is
 * not Trellis, and a wait for the server to have read what clients sent.
 */
import http from 'node:http';
import { createServer } from 'node:net';

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

/** A web server answering every path with HTML (something else on the admin port). */
export async function notTrellisServer(): Promise<{ server: http.Server; address: string }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html><body>hello</body></html>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, address: `127.0.0.1:${(server.address() as { port: number }).port}` };
}

/** Polls `cond` until it holds; throws after `ms` (a condition, never a timing assertion). */
export async function until(cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
