// The Trellis dashboard's script: plain browser JavaScript, no build step, no libraries.
//
// Live by polling, every 2 s, the admin's JSON APIs: /api/v1/graph (the mesh
// with golden metrics per edge), /api/v1/intents, /api/v1/proxies and
// /api/v1/certificates. Polling rather than server-sent events because every
// view is already a request/response API with one home for its fact, golden
// metrics are a read over a window anyway (each read is fresh), and a poll
// survives a Trellis restart with nothing to reconnect. A poll starts only
// when the previous one ended, so a slow admin is never flooded.
//
// Where nothing was measured the page says "no data", never 0: a success rate
// of an edge nobody called is not 0 %, nor 100 %.
'use strict';

const POLL_MS = 2000;
const NODE_W = 170;
const NODE_H = 56;
const NO_DATA = 'no data';
const params = new URLSearchParams(location.search);
const WINDOW = params.get('window') || '60';
const SVG_NS = 'http://www.w3.org/2000/svg';

/** An HTML element; children are nodes or strings (text, never parsed as HTML). */
function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : String(c));
  return e;
}

function s(tag, attrs, ...children) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : String(c));
  return e;
}

async function getJson(path) {
  try {
    const res = await fetch(path, { cache: 'no-store' });
    const body = await res.json().catch(() => null);
    return { ok: res.ok, status: res.status, body };
  } catch (e) {
    return { ok: false, status: 0, body: null, error: String(e) };
  }
}

// ---- formatting: null is "no data" (or a dash inside a line of figures), never 0

function pct(v) {
  return v === null || v === undefined ? NO_DATA : `${(v * 100).toFixed(v >= 0.9995 || v === 0 ? 0 : 1)}%`;
}
function rate(v) {
  if (v === null || v === undefined) return null;
  return v >= 10 ? `${v.toFixed(0)} rps` : `${v.toFixed(2)} rps`;
}
function ms(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  return v < 10 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`;
}
function ago(iso) {
  if (!iso) return '–';
  return duration((Date.now() - Date.parse(iso)) / 1000) + ' ago';
}
function duration(seconds) {
  const s = Math.abs(Math.round(seconds));
  if (s < 90) return `${s}s`;
  if (s < 90 * 60) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d`;
}
function health(rate) {
  if (rate === null || rate === undefined) return 'nodata';
  return rate >= 0.99 ? 'ok' : rate >= 0.95 ? 'warn' : 'bad';
}

// ---- the graph

/** The two lines of a call edge's label, or "no data". */
function callLabel(e) {
  const t = e.traffic;
  if (!t) return [NO_DATA];
  if (t.requests === 0) return t.tcp.connections > 0 ? [`${t.tcp.connections} conn`, `HTTP ${NO_DATA}`] : [NO_DATA];
  const r = rate(t.rps);
  return [`${r ? `${r} · ` : ''}${pct(t.successRate)}`, `p99 ${ms(t.latencyMs && t.latencyMs.p99)} · ${t.requests} req${r ? '' : ' since start'}`];
}

function edgeClass(e) {
  if (e.kind !== 'calls') return e.kind;
  return !e.traffic || e.traffic.requests === 0 ? 'nodata' : health(e.traffic.successRate);
}

function renderGraph(g) {
  const box = document.getElementById('graph');
  if (!g.nodes.length) {
    box.replaceChildren(h('div', { class: 'empty' }, 'No workloads or services in the mesh yet.'));
    return;
  }
  const at = new Map(g.nodes.map((n) => [n.id, n]));
  // Each column's left edge: a label sits in the gap right after its edge's first column (the layout made it wide enough).
  const columnX = [];
  for (const n of g.nodes) columnX[n.rank] = n.x;
  const defs = s('defs', {}, ...['ok', 'warn', 'bad', 'nodata', 'splits', 'selects'].map((c) =>
    s('marker', { id: `arrow-${c}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerUnits: 'userSpaceOnUse', markerWidth: 9, markerHeight: 9, orient: 'auto-start-reverse' },
      s('path', { d: 'M0,0 L10,5 L0,10 z', class: `arrow-${c}` }))));
  const edgeLayer = s('g', { class: 'edges' });
  const labels = [];
  // Several edges between one pair of nodes share their ends: spread them a little.
  const fan = new Map();
  for (const e of g.edges) {
    const a = at.get(e.from);
    const b = at.get(e.to);
    if (!a || !b) continue;
    const k = `${e.from}|${e.to}`;
    const i = fan.get(k) || 0;
    fan.set(k, i + 1);
    const off = i * 6;
    const forward = b.rank > a.rank;
    let x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2 + off;
    let x2 = b.x, y2 = b.y + NODE_H / 2 + off;
    const dx = Math.max(60, Math.abs(x2 - x1) / 2);
    let d = `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
    if (a.rank === b.rank) {
      // Same column (a service drawn above the one workload it selects): straight down (or up).
      const down = b.y > a.y;
      x1 = x2 = a.x + NODE_W / 2;
      y1 = down ? a.y + NODE_H : a.y;
      y2 = down ? b.y : b.y + NODE_H;
      d = `M${x1},${y1} L${x2},${y2}`;
    }
    const cls = edgeClass(e);
    const attrs = { class: `edge ${e.kind} ${cls}`, 'data-edge': e.id, 'data-kind': e.kind, 'data-from': e.from, 'data-to': e.to };
    if (e.kind === 'calls') {
      attrs['data-port'] = e.port;
      if (e.traffic && e.traffic.requests > 0) {
        attrs['data-requests'] = e.traffic.requests;
        attrs['data-successes'] = e.traffic.successes;
        if (e.traffic.rps !== null) attrs['data-rps'] = e.traffic.rps.toFixed(3);
        if (e.traffic.latencyMs) attrs['data-p99'] = e.traffic.latencyMs.p99.toFixed(3);
      } else attrs['data-nodata'] = 'true';
    }
    if (e.kind === 'splits') attrs['data-weight'] = e.weights.map((w) => w.weight).join(',');
    const group = s('g', attrs, s('path', { d, 'marker-end': `url(#arrow-${e.kind === 'calls' ? cls : e.kind})` }));
    const width = e.kind === 'calls' && e.traffic && e.traffic.rps ? 2 + Math.min(6, Math.log2(1 + e.traffic.rps)) : undefined;
    if (width) group.firstChild.style.strokeWidth = String(width);
    edgeLayer.append(group);
    const lines = e.kind === 'calls' ? callLabel(e) : e.kind === 'splits' ? [e.weights.map((w) => `${w.weight}%${w.matched ? ' on match' : ''}`).join(' · ')] : [];
    if (!lines.length) continue;
    const w = Math.max(...lines.map((l) => l.length)) * 6.2 + 12;
    const bez = (t, p0, p1, p2, p3) => (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t ** 2 * p2 + t ** 3 * p3;
    const next = columnX[a.rank + 1];
    // A call's figures sit mid-gap after its first column; a split's weight near its arrowhead, out of their way.
    const mx = !forward ? bez(0.5, x1, x1 + dx, x2 - dx, x2) : e.kind === 'splits' ? x2 - 10 - w / 2 : next !== undefined ? (x1 + next) / 2 : (x1 + x2) / 2;
    // The curve's height there: x(t) rises with t on a forward edge, so bisect for t.
    let lo = 0, hi = 1;
    for (let k = 0; k < 24; k++) {
      const mid = (lo + hi) / 2;
      if (bez(mid, x1, x1 + dx, x2 - dx, x2) < mx) lo = mid; else hi = mid;
    }
    const my = forward ? bez(lo, y1, y1, y2, y2) : (y1 + y2) / 2;
    const title = `${e.from.replace(/^\w+:/, '')} → ${e.to.replace(/^\w+:/, '')}${e.port ? `:${e.port}` : ''}${e.allowedBy ? `\nallowed by ${e.allowedBy.join(', ')}` : ''}${e.weights ? e.weights.map((x) => `\nTrafficSplit ${x.split}: ${x.weight}%${x.matched ? ' of matching requests' : ''}`).join('') : ''}`;
    labels.push({ e, cls, lines, title, x: mx - w / 2, y: my - (lines.length * 14) / 2 - 3, w, h: lines.length * 14 + 6 });
  }
  // Labels that would overlap move down, in order of height, each below the one it hit.
  const placed = [];
  for (const l of labels.sort((p, q) => p.y - q.y || p.x - q.x)) {
    for (let moved = true; moved; ) {
      moved = false;
      for (const o of placed) {
        if (l.x < o.x + o.w && o.x < l.x + l.w && l.y < o.y + o.h + 2 && o.y < l.y + l.h + 2) {
          l.y = o.y + o.h + 3;
          moved = true;
        }
      }
    }
    placed.push(l);
  }
  const labelLayer = s('g', { class: 'labels' }, ...placed.map((l) =>
    s('g', { class: `edge ${l.e.kind} ${l.cls}`, 'data-label-for': l.e.id },
      s('g', { class: 'label' },
        s('rect', { x: l.x, y: l.y, width: l.w, height: l.h, rx: 5 }),
        ...l.lines.map((t, i) => s('text', { x: l.x + l.w / 2, y: l.y + 14 * (i + 1), 'text-anchor': 'middle' }, t))),
      s('title', {}, l.title))));
  const bottom = Math.max(g.height, ...placed.map((l) => l.y + l.h + 8));
  const nodeLayer = s('g', { class: 'nodes' });
  for (const n of g.nodes) {
    const meta = n.kind === 'workload'
      ? `${n.namespace} · ${n.pods.length ? `${n.pods.length} pod${n.pods.length === 1 ? '' : 's'}` : 'not in the mesh'}`
      : `svc ${n.namespace}${n.ports && n.ports.length ? ` · :${n.ports.join(', :')}` : ''}`;
    nodeLayer.append(s('g', { class: `node ${n.kind}${n.inModel ? '' : ' ghost'}`, 'data-node': n.id, transform: `translate(${n.x},${n.y})` },
      s('rect', { width: NODE_W, height: NODE_H, rx: 9 }),
      s('text', { class: 'title', x: 12, y: 23 }, n.name.length > 24 ? `${n.name.slice(0, 23)}…` : n.name),
      s('text', { class: 'meta', x: 12, y: 41 }, meta),
      s('title', {}, `${n.kind} ${n.namespace}/${n.name}${n.pods && n.pods.length ? `\npods: ${n.pods.join(', ')}` : ''}${n.identities && n.identities.length ? `\n${n.identities.join('\n')}` : ''}`)));
  }
  box.replaceChildren(s('svg', { width: g.width, height: bottom, viewBox: `0 0 ${g.width} ${bottom}`, role: 'img', 'aria-label': 'mesh traffic graph' }, defs, edgeLayer, nodeLayer, labelLayer));
}

function renderMetricsNote(g) {
  const note = document.getElementById('metrics-note');
  const m = g.metrics;
  note.dataset.status = m.status;
  if (m.status === 'no-data') {
    note.className = 'note nodata';
    note.textContent = `golden metrics: ${NO_DATA} — ${m.reason}`;
    return;
  }
  note.className = 'note';
  const win = m.windowSeconds === null ? 'since each sidecar started' : `last ${Math.round(m.windowSeconds)} s`;
  note.textContent = `golden metrics from ${m.source === 'prometheus' ? 'Prometheus' : 'the sidecars'}, ${win}${m.missing ? ` · not answering: ${m.missing.join('; ')}` : ''}`;
}

// ---- tables

function conditionBadge(c) {
  const good = c.status === 'True';
  return h('span', { class: `badge ${good ? 'good' : 'bad'}`, title: c.message || '' }, `${c.type}: ${c.reason}`);
}

function renderIntents(body) {
  const rows = (body.intents || []).map((i) =>
    h('tr', { 'data-intent': `${i.kind}/${i.namespace ? `${i.namespace}/` : ''}${i.name}` },
      h('td', { class: 'nowrap' }, i.kind),
      h('td', { class: 'nowrap' }, i.namespace ? `${i.namespace}/${i.name}` : i.name),
      h('td', { class: 'conditions' }, (i.conditions || []).length ? i.conditions.map(conditionBadge) : h('span', { class: 'muted' }, 'none')),
      h('td', { class: 'problems' }, (i.problems || []).map((p) => h('div', { class: 'problem' }, `${p.field ? `${p.field}: ` : ''}${p.message}`)))));
  document.querySelector('#intents tbody').replaceChildren(...rows);
  const errors = (body.sourceErrors || []).length;
  document.getElementById('intents-note').textContent = `generation ${body.generation}${errors ? ` · ${errors} source error${errors === 1 ? '' : 's'}` : ''}`;
  return rows.length;
}

const SYNC_CLASS = { SYNCED: 'good', STALE: 'warn', NACKED: 'bad' };

function renderProxies(body) {
  const proxies = body.proxies || [];
  const rows = proxies.map((p) => {
    const sync = Object.entries(p.sync || {});
    return h('tr', { 'data-proxy': p.node, 'data-sync': sync.map(([t, v]) => `${t}=${v.state}`).join(' ') },
      h('td', { class: 'nowrap' }, p.node),
      h('td', { class: 'muted' }, p.identity || 'not proven'),
      h('td', {}, sync.map(([t, v]) => h('span', { class: `badge ${SYNC_CLASS[v.state] || 'plain'}`, title: v.message || '' }, `${t.toUpperCase()} ${v.state}`))),
      h('td', { class: 'muted nowrap' }, ago(p.connectedSince)));
  });
  document.querySelector('#proxies tbody').replaceChildren(...(rows.length ? rows : [h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'no proxy is connected'))]));
  const synced = proxies.filter((p) => Object.values(p.sync || {}).every((v) => v.state === 'SYNCED')).length;
  document.getElementById('proxies-note').textContent = `${synced} of ${proxies.length} in sync`;
  return { synced, total: proxies.length };
}

function renderCertificates(body) {
  const certs = body.certificates || [];
  const rows = certs.map((c) => {
    const left = c.expiresInSeconds;
    const cls = left <= 0 ? 'bad' : left < 3600 ? 'warn' : 'good';
    return h('tr', { 'data-certificate': c.spiffeId || c.kind, 'data-expires-in': left, 'data-not-after': c.notAfter },
      h('td', {}, c.spiffeId || (c.dnsNames || []).join(', ') || '–'),
      h('td', { class: 'muted nowrap' }, c.kind),
      h('td', { class: 'muted' }, c.serial.length > 12 ? `${c.serial.slice(0, 12)}…` : c.serial),
      h('td', {}, h('span', { class: `badge ${cls}`, title: c.notAfter }, left <= 0 ? `expired ${duration(left)} ago` : `in ${duration(left)}`), ' ', h('span', { class: 'muted' }, c.notAfter.replace('T', ' ').replace(/\.\d+Z$/, 'Z'))));
  });
  document.querySelector('#certificates tbody').replaceChildren(...rows);
  const roots = (body.roots || []).map((r) => `${r.state} root ${r.subject} until ${r.notAfter.slice(0, 10)}`);
  document.getElementById('certificates-note').textContent = `${roots.join(' · ')}${body.rotation ? ' · rotation in progress' : ''}`;
  return rows.length;
}

function unavailable(table, note, res) {
  const why = res.status === 404 ? 'not served by this Trellis' : res.status === 0 ? 'admin unreachable' : `HTTP ${res.status}`;
  document.getElementById(note).textContent = why;
  const cols = document.querySelectorAll(`#${table} thead th`).length;
  document.querySelector(`#${table} tbody`).replaceChildren(h('tr', {}, h('td', { colspan: cols, class: 'muted' }, why)));
}

// ---- the loop

let polls = 0;

async function poll() {
  const [graph, intents, proxies, certificates] = await Promise.all([
    getJson(`/api/v1/graph?window=${encodeURIComponent(WINDOW)}`),
    getJson('/api/v1/intents'),
    getJson('/api/v1/proxies'),
    getJson('/api/v1/certificates'),
  ]);
  const summary = [];
  if (graph.ok) {
    renderGraph(graph.body);
    renderMetricsNote(graph.body);
    summary.push(h('span', {}, h('b', {}, graph.body.nodes.filter((n) => n.kind === 'workload').length), ' workloads'));
    summary.push(h('span', {}, h('b', {}, graph.body.nodes.filter((n) => n.kind === 'service').length), ' services'));
  } else {
    document.getElementById('graph').replaceChildren(h('div', { class: 'empty' }, graph.status === 404 ? 'This Trellis serves no mesh model (a resources file?): no graph.' : 'The admin API did not answer.'));
  }
  if (intents.ok) summary.push(h('span', {}, h('b', {}, renderIntents(intents.body)), ' intents'));
  else unavailable('intents', 'intents-note', intents);
  if (proxies.ok) {
    const p = renderProxies(proxies.body);
    summary.push(h('span', {}, h('b', {}, `${p.synced}/${p.total}`), ' proxies in sync'));
  } else unavailable('proxies', 'proxies-note', proxies);
  if (certificates.ok) summary.push(h('span', {}, h('b', {}, renderCertificates(certificates.body)), ' certificates'));
  else unavailable('certificates', 'certificates-note', certificates);
  document.getElementById('summary').replaceChildren(...summary);
  const live = document.getElementById('live');
  const allFailed = [graph, intents, proxies, certificates].every((r) => r.status === 0);
  live.dataset.state = allFailed ? 'error' : 'live';
  live.textContent = allFailed ? 'admin unreachable, retrying' : `live · updated ${new Date().toLocaleTimeString()}`;
  polls += 1;
  document.body.dataset.polls = String(polls);
}

async function loop() {
  try {
    await poll();
  } catch (e) {
    const live = document.getElementById('live');
    live.dataset.state = 'error';
    live.textContent = `error: ${e}`;
  }
  setTimeout(loop, POLL_MS);
}

loop();
