/**
 * Issue 12, the dashboard, in a real browser: headless Chromium (Debian's,
 * scripts/setup-chromium.sh) over the DevTools protocol opens the admin's
 * /dashboard on a lean mesh of real Envoys (frontend -> recommendation ->
 * ratings, the demo application, golden metrics read straight from the
 * sidecars), waits for live data, takes screenshots and reads the DOM for the
 * numbers it must show: the edges that carry traffic with the request counts
 * the test sent, an intent's condition, each proxy's sync state, certificate
 * expiry; then an intent edit and more traffic show up without a reload. A
 * second Trellis with an unreachable Prometheus shows "no data", never zeros.
 * Loopback range 127.0.150.x (this suite's).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { DEMO_PORTS, startDemo, type RunningDemo } from '../../src/runtime/demo.ts';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { componentLogger } from '../../src/log.ts';
import { trellis } from '../security/support.ts';
import { chromiumBin, pngSize, startChromium, type CdpPage, type RunningChromium } from '../support/chromium.ts';
import { get } from '../support/edge-e2e.ts';
import { meshConfig, NAMESPACE, pod, service, serviceAccounts, trafficTarget } from '../support/mesh-yaml.ts';

const NET = '127.0.150';
const HOST = `${NET}.1`;
const FRONTEND = `${NET}.2`;
const RECOMMENDATION = `${NET}.3`;
const RATINGS = `${NET}.4`;
const XDS = `${HOST}:18850`;
const ADMIN = `${HOST}:19850`;
const TD = 'cluster.local';
const VIEW = { width: 1400, height: 1000 };

const MESH = `${NAMESPACE}${meshConfig('Permissive')}`;

/** The demo application's three workloads, each a pod behind a service of its name, on port 8080. */
function apps(): string {
  const pods = { frontend: FRONTEND, recommendation: RECOMMENDATION, ratings: RATINGS };
  return (
    serviceAccounts(...Object.keys(pods)) +
    Object.entries(pods)
      .map(([name, ip]) => pod(name, name, ip, name) + service(name, [DEMO_PORTS.service], [[name, ip]]))
      .join('')
  );
}

// Two backends of the split, both the one recommendation pod: enough to see weights and per-backend edges with three Envoys.
const BACKENDS = ['recommendation-v1', 'recommendation-v2'].map((name) => service(name, [DEMO_PORTS.service], [['recommendation', RECOMMENDATION]], 'recommendation')).join('');

function split(v1: number, v2: number): string {
  return `apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: recommendation, namespace: demo}
spec:
  service: recommendation
  backends:
  - {service: recommendation-v1, weight: ${v1}}
  - {service: recommendation-v2, weight: ${v2}}
`;
}

const BROKEN_SPLIT = `apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: broken, namespace: demo}
spec:
  service: ratings
  backends:
  - {service: ratings-v9, weight: 100}
`;

/** `n` requests through frontend -> recommendation -> ratings; what the client saw of ratings. */
async function chain(n: number): Promise<{ ratingsCalls: number; ratings5xx: number }> {
  const seen = { ratingsCalls: 0, ratings5xx: 0 };
  for (let i = 0; i < n; i++) {
    const r = await get(`http://${FRONTEND}:${DEMO_PORTS.app}/`);
    expect(r.status).toBe(200);
    const ratings = (JSON.parse(r.body) as { upstream?: { upstream?: { status: number } } }).upstream?.upstream;
    if (ratings) {
      seen.ratingsCalls++;
      if (ratings.status >= 500) seen.ratings5xx++;
    }
  }
  return seen;
}

interface EdgeView {
  id: string;
  kind: string;
  requests?: string;
  successes?: string;
  rps?: string;
  p99?: string;
  weight?: string;
  nodata?: string;
  label: string;
}

/** The graph's edges as the page shows them: data attributes and the label's lines joined by ' / '. */
const EDGES = `[...document.querySelectorAll('g.edge[data-edge]')].map((g) => ({
  id: g.dataset.edge, kind: g.dataset.kind, requests: g.dataset.requests, successes: g.dataset.successes, rps: g.dataset.rps, p99: g.dataset.p99,
  weight: g.dataset.weight, nodata: g.dataset.nodata,
  label: [...document.querySelectorAll('[data-label-for="' + CSS.escape(g.dataset.edge) + '"] text')].map((t) => t.textContent).join(' / '),
}))`;

const edgeId = (from: string, to: string) => `workload:demo/${from}->service:demo/${to}:8080`;
const find = (edges: EdgeView[], id: string) => edges.find((e) => e.id === id);

async function shot(page: CdpPage, dir: string, name: string): Promise<Buffer> {
  const png = await page.screenshot();
  const file = path.join(dir, `${name}.png`);
  writeFileSync(file, png);
  // TRELLIS_DASHBOARD_SHOTS=<dir> keeps a copy to look at after the run (the test's temp dir is removed).
  if (process.env.TRELLIS_DASHBOARD_SHOTS) {
    mkdirSync(process.env.TRELLIS_DASHBOARD_SHOTS, { recursive: true });
    copyFileSync(file, path.join(process.env.TRELLIS_DASHBOARD_SHOTS, `${name}.png`));
  }
  return png;
}

async function closedPort(host: string): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, host, r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('issue 12: the dashboard in headless Chromium, on real sidecars', () => {
  let dir: string;
  let meshDir: string;
  let demo: RunningDemo | undefined;
  let chromium: RunningChromium | undefined;
  let page: CdpPage;
  let bare: RunningControlPlane | undefined;

  /** The route version frontend's Envoy ACKed last. */
  async function frontendRoutesAcked(): Promise<string | null> {
    const body = (await (await fetch(`http://${ADMIN}/api/v1/proxies`)).json()) as { proxies: Array<{ node: string; streams: Array<{ types: Record<string, { ackedVersion: string | null }> }> }> };
    return body.proxies.find((p) => p.node === 'demo/frontend')?.streams[0]?.types.rds?.ackedVersion ?? null;
  }

  beforeAll(async () => {
    chromiumBin(); // fails here, naming scripts/setup-chromium.sh, when Chromium is missing
    dir = mkdtempSync(path.join(os.tmpdir(), 'trellis-dashboard-'));
    meshDir = path.join(dir, 'mesh');
    mkdirSync(meshDir);
    writeFileSync(path.join(meshDir, 'mesh.yaml'), MESH);
    writeFileSync(path.join(meshDir, 'apps.yaml'), apps() + BACKENDS);
    writeFileSync(path.join(meshDir, 'intents.yaml'), split(100, 0));
    demo = await startDemo({ meshDir, stateDir: path.join(dir, 'state'), xdsAddress: XDS, adminAddress: ADMIN, logDir: path.join(dir, 'logs'), readyTimeoutMs: 60_000 });
    chromium = await startChromium();
    page = await chromium.page(VIEW.width, VIEW.height);
  }, 150_000);

  afterAll(async () => {
    page?.close();
    await chromium?.stop();
    await bare?.stop();
    await demo?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('shows each proxy\'s sync state, certificate expiry, an intent\'s condition, and the edges carrying traffic with the counts the test sent; an intent edit and more traffic appear without a reload', async () => {
    await page.navigate(`http://${ADMIN}/dashboard?window=300`);
    await page.waitFor<number>('Number(document.body.dataset.polls || 0)', (n) => n >= 1, 'the first poll');
    // Set on the page once: a reload would lose it.
    await page.evaluate('window.__sameDocument = "kept"');

    // Proxies: the sync state per type, as /api/v1/proxies has it, every one SYNCED.
    const api = (await (await fetch(`http://${ADMIN}/api/v1/proxies`)).json()) as { proxies: Array<{ node: string; sync: Record<string, { state: string }> }> };
    const want = api.proxies.map((p) => ({ node: p.node, sync: Object.entries(p.sync).map(([t, v]) => `${t}=${v.state}`).join(' ') }));
    expect(want.map((p) => p.node)).toEqual(['demo/frontend', 'demo/ratings', 'demo/recommendation']);
    for (const p of want) expect(p.sync).toMatch(/^(?=.*cds=SYNCED)(?=.*lds=SYNCED)(?=.*sds=SYNCED)(?!.*(STALE|NACKED))/);
    const proxies = await page.waitFor<Array<{ node: string; sync: string; text: string }>>(
      `[...document.querySelectorAll('#proxies tr[data-proxy]')].map((r) => ({ node: r.dataset.proxy, sync: r.dataset.sync, text: r.textContent }))`,
      (rows) => rows.length === 3,
      'three proxies in the table',
    );
    expect(proxies.map(({ node, sync }) => ({ node, sync }))).toEqual(want);
    for (const p of proxies) expect(p.text).toMatch(/CDS SYNCED.*LDS SYNCED.*SDS SYNCED/);

    // Certificates: each workload's, with the expiry the CA lists.
    const certs = (await (await fetch(`http://${ADMIN}/api/v1/certificates`)).json()) as { certificates: Array<{ spiffeId: string | null; notAfter: string }> };
    const shown = await page.evaluate<Array<{ id: string; notAfter: string; expiresIn: number; text: string }>>(
      `[...document.querySelectorAll('#certificates tr[data-certificate]')].map((r) => ({ id: r.dataset.certificate, notAfter: r.dataset.notAfter, expiresIn: Number(r.dataset.expiresIn), text: r.textContent }))`,
    );
    for (const name of ['frontend', 'recommendation', 'ratings']) {
      const id = `spiffe://${TD}/ns/demo/sa/${name}`;
      const row = shown.find((c) => c.id === id);
      expect(row, JSON.stringify(shown)).toBeDefined();
      expect(row!.notAfter).toBe(certs.certificates.find((c) => c.spiffeId === id)!.notAfter);
      expect(row!.expiresIn).toBeGreaterThan(0);
      expect(row!.text).toMatch(/in \d+(s|m|h \d+m|d)/);
      expect(row!.text).toContain(row!.notAfter.slice(0, 16).replace('T', ' '));
    }

    // Never key material: the page shows what /api/v1/certificates lists, which has none.
    expect(await page.evaluate<string>('document.documentElement.outerHTML')).not.toMatch(/PRIVATE KEY|BEGIN /);

    // An intent's condition.
    const intentRow = (key: string) => `(() => { const r = document.querySelector('#intents tr[data-intent="${key}"]'); return r ? { badges: [...r.querySelectorAll('.conditions .badge')].map((b) => b.className + ' ' + b.textContent), problems: r.querySelector('.problems').textContent } : null })()`;
    const accepted = await page.evaluate<{ badges: string[] } | null>(intentRow('TrafficSplit/demo/recommendation'));
    expect(accepted?.badges).toContain('badge good Accepted: Accepted');

    // Traffic: every 4th ratings request fails (the demo app's /control/fail); the page must show what the client saw.
    expect((await get(`http://${RATINGS}:${DEMO_PORTS.app}/control/fail?ratio=0.25`)).status).toBe(200);
    const first = await chain(40);
    await get(`http://${RATINGS}:${DEMO_PORTS.app}/control/fail?ratio=0`);
    expect(first.ratingsCalls).toBe(40);
    expect(first.ratings5xx).toBeGreaterThanOrEqual(9);
    const edges = await page.waitFor<EdgeView[]>(
      EDGES,
      // Latency comes a little later than the counts: Envoy merges histograms every 5 s (docs/telemetry.md).
      (es) => [edgeId('frontend', 'recommendation-v1'), edgeId('recommendation', 'ratings')].every((id) => find(es, id)?.requests === '40' && find(es, id)?.p99 !== undefined),
      'the edges of 40 requests, with their latency',
    );
    const fe = find(edges, edgeId('frontend', 'recommendation-v1'))!;
    expect(fe).toMatchObject({ kind: 'calls', successes: '40' });
    expect(Number(fe.rps)).toBeGreaterThan(0);
    expect(fe.label).toMatch(/^[\d.]+ rps · 100% \/ p99 [\d.]+ ms · 40 req$/);
    const rr = find(edges, edgeId('recommendation', 'ratings'))!;
    expect(rr.successes).toBe(String(40 - first.ratings5xx));
    expect(rr.label).toContain(`${(((40 - first.ratings5xx) / 40) * 100).toFixed(1)}%`);
    expect(rr.label).toContain('40 req');
    // No call went to the backend at weight 0, and nothing calls frontend: no edge claims traffic there.
    expect(find(edges, edgeId('frontend', 'recommendation-v2'))).toBeUndefined();
    expect(edges.filter((e) => e.kind === 'calls' && e.requests !== undefined).map((e) => e.id).sort()).toEqual([edgeId('frontend', 'recommendation-v1'), edgeId('recommendation', 'ratings')]);
    expect(find(edges, 'service:demo/recommendation->service:demo/recommendation-v1')).toMatchObject({ kind: 'splits', weight: '100', label: '100%' });
    const png1 = await shot(page, dir, 'dashboard-live');
    expect(pngSize(png1).width).toBe(VIEW.width);
    expect(png1.length).toBeGreaterThan(30_000);

    // `trellis stat` for a workload that calls nobody: "no data", not a row of zeros.
    const stat = await trellis(['stat', 'ratings', '--namespace', 'demo', '--admin', ADMIN]);
    expect(stat.stdout).toContain('no data: no traffic from demo/ratings in the window');

    // An intent edit: the split moves to v2, and a new split names a backend that does not exist.
    const polls = await page.evaluate<number>('Number(document.body.dataset.polls)');
    const routesBefore = await frontendRoutesAcked();
    writeFileSync(path.join(meshDir, 'intents.yaml'), `${split(0, 100)}---\n${BROKEN_SPLIT}`);
    const broken = await page.waitFor<{ badges: string[]; problems: string } | null>(intentRow('TrafficSplit/demo/broken'), (r) => r !== null, 'the broken split in the intents table');
    expect(broken!.badges.join(' ')).toMatch(/badge bad Accepted: /);
    expect(broken!.problems).toContain('ratings-v9');
    await page.waitFor<EdgeView[]>(EDGES, (es) => find(es, 'service:demo/recommendation->service:demo/recommendation-v2')?.weight === '100', 'the new weights');
    // frontend's Envoy routes by the new weights once it ACKed the new routes.
    for (const deadline = Date.now() + 30_000; (await frontendRoutesAcked()) === routesBefore; ) {
      if (Date.now() > deadline) throw new Error('frontend never ACKed the routes of the edited split');
      await new Promise((r) => setTimeout(r, 200));
    }
    await chain(20);
    const after = await page.waitFor<EdgeView[]>(EDGES, (es) => find(es, edgeId('frontend', 'recommendation-v2'))?.requests === '20', 'the edge to v2 with 20 requests');
    expect(find(after, edgeId('frontend', 'recommendation-v1'))?.requests).toBe('40');
    expect(find(after, edgeId('recommendation', 'ratings'))?.requests).toBe('60');
    expect(await page.evaluate<string>('window.__sameDocument')).toBe('kept');
    expect(await page.evaluate<number>('Number(document.body.dataset.polls)')).toBeGreaterThan(polls);
    const png2 = await shot(page, dir, 'dashboard-after-edit');
    expect(png2.length).toBeGreaterThan(30_000);
  }, 180_000);

  it('with no metrics source (Prometheus unreachable): "no data" with the reason on the page and in trellis stat / top, never zeros', async () => {
    const bareDir = path.join(dir, 'bare');
    mkdirSync(bareDir);
    writeFileSync(path.join(bareDir, 'mesh.yaml'), MESH);
    // Allowed but never called (no Envoy connects here): an edge for "no data" to sit on.
    writeFileSync(path.join(bareDir, 'apps.yaml'), apps() + trafficTarget('frontend', 'recommendation'));
    const prometheus = `http://${HOST}:${await closedPort(HOST)}`;
    bare = await startControlPlane({
      xdsAddress: `${HOST}:0`,
      adminAddress: `${HOST}:0`,
      sourceDir: bareDir,
      stateDir: path.join(dir, 'bare-state'),
      log: componentLogger('bare'),
      metrics: { prometheusUrl: prometheus, timeoutMs: 1000 },
    });
    const admin = `${HOST}:${bare.adminPort}`;
    await page.navigate(`http://${admin}/dashboard`);
    const note = await page.waitFor<{ status?: string; text: string }>(
      `(() => { const n = document.getElementById('metrics-note'); return { status: n.dataset.status, text: n.textContent } })()`,
      (n) => n.status === 'no-data',
      'the no-data note',
    );
    expect(note.text).toBe(`golden metrics: no data — Prometheus at ${prometheus}: connect ECONNREFUSED ${prometheus.slice('http://'.length)}`);
    const edges = await page.waitFor<EdgeView[]>(EDGES, (es) => es.some((e) => e.kind === 'calls'), 'the allowed edge');
    const calls = edges.filter((e) => e.kind === 'calls');
    expect(calls.map((e) => e.id)).toEqual([edgeId('frontend', 'recommendation')]);
    for (const e of calls) {
      expect(e).toMatchObject({ nodata: 'true', label: 'no data' });
      expect([e.requests, e.successes, e.rps]).toEqual([undefined, undefined, undefined]);
    }
    const text = await page.evaluate<string>('document.body.textContent');
    expect(text).toContain('no proxy is connected');
    // No figure anywhere claims a measured zero.
    expect(text).not.toMatch(/(^|[^\d.])0(\.0+)?\s?(rps|%|req)/);
    const png = await shot(page, dir, 'dashboard-no-data');
    expect(png.length).toBeGreaterThan(10_000);

    for (const cmd of ['stat', 'top']) {
      const r = await trellis([cmd, '--admin', admin]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`no data for the mesh: Prometheus at ${prometheus}: connect ECONNREFUSED ${prometheus.slice('http://'.length)}\n`);
    }
  }, 120_000);
});
