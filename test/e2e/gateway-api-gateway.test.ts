/**
 * issue 10: the Gateway API conformance suite's own GATEWAY-HTTP core cases,
 * run on loopback (127.0.130.x) against real gateway Envoys that Trellis
 * programs, in front of the suite's echo-basic backends behind real Envoy
 * sidecars (test/support/gateway-conformance.ts). Each case applies the
 * manifest the module carries, unchanged, checks the status its .go asserts
 * (from /api/v1/intents) and the expectation table transcribed from it
 * (test/support/gateway-http-cases.ts).
 *
 * The results make the GATEWAY-HTTP table of docs/gateway-api-conformance.md;
 * the test fails when the document says otherwise (UPDATE_CONFORMANCE_DOC=1
 * rewrites it). A case marked unsupported must still fail the way its reason says.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mismatch, syncDocTable, untilConsecutive } from '../support/conformance-compare.ts';
import { GatewayConformance } from '../support/gateway-conformance.ts';
import { GATEWAY_CASES, SAME_NAMESPACE, type GatewayCase, type GatewayExpectation, type RouteStatus } from '../support/gateway-http-cases.ts';
import { conformanceModule, GATEWAY_API_VERSION } from '../support/gateway-api.ts';
import { objectRef, statusMismatches, type StatusCheck } from '../support/gateway-status-check.ts';
import { STATUS_CASES, type StatusCase } from '../support/gateway-status-cases.ts';


let suite: GatewayConformance;
const results = new Map<string, { result: 'passed' | 'failed' | 'unsupported'; why: string }>();

beforeAll(async () => {
  suite = await GatewayConformance.start();
}, 120_000);

afterAll(async () => {
  await suite?.stop();
});

type Json = Record<string, any>; // /api/v1/intents, walked freely
/** A case's manifest as the module carries it, its placeholders given Trellis's GatewayClass and controller. */
const caseManifest = (file: string) => readFileSync(path.join(conformanceModule(), 'tests', file), 'utf8')
  .replaceAll('{GATEWAY_CLASS_NAME}', 'trellis').replaceAll('{GATEWAY_CONTROLLER_NAME}', 'trellis.io/gateway-controller');
const objectsOf = (yaml: string): Json[] => parseAllDocuments(yaml).map((d) => d.toJSON() as Json).filter((o) => o && typeof o === 'object');
const yamlOf = (objects: readonly Json[]) => objects.map((o) => JSON.stringify(o)).join('\n---\n');

async function intents(): Promise<Json[]> {
  const res = await fetch(`${suite.adminUrl}/api/v1/intents`, { signal: AbortSignal.timeout(5000) });
  return ((await res.json()) as { intents: Json[] }).intents;
}

const find = (all: Json[], kind: string, key: string) => all.find((x) => x.kind === kind && `${x.namespace}/${x.name}` === key);

/** What is wrong with a route's status for one Gateway parent, or undefined. */
function parentMismatch(all: Json[], s: RouteStatus): string | undefined {
  const route = find(all, 'HTTPRoute', s.route);
  if (!route) return `no HTTPRoute ${s.route} in /api/v1/intents`;
  const [ns, name] = s.gateway.split('/');
  const parents = (route.parents ?? []).filter((p: Json) => p.parentRef?.kind === 'Gateway' && p.parentRef?.name === name && (p.parentRef?.namespace ?? route.namespace) === ns);
  if (parents.length === 0) return `${s.route}: no status for parent Gateway ${s.gateway}`;
  for (const [type, status, reason] of s.conditions) {
    const ok = parents.some((p: Json) => (p.conditions as Json[]).some((c) => c.type === type && c.status === status && (reason === '' || c.reason === reason)));
    if (!ok) return `${s.route} on ${s.gateway}: no ${type}=${status}${reason ? ` ${reason}` : ''}: ${JSON.stringify(parents.map((p: Json) => p.conditions.map((c: Json) => `${c.type}=${c.status} ${c.reason}`)))}`;
  }
  return undefined;
}

/** What the case asserts of status (GatewayAndHTTPRoutesMustBeAccepted and the rest), checked until it holds or 10 s pass. */
async function checkStatus(c: GatewayCase): Promise<string[]> {
  const gateway = c.gateway ?? SAME_NAMESPACE;
  const wanted: RouteStatus[] = [
    ...(c.accepted ?? []).map((route): RouteStatus => ({ route, gateway, conditions: [['Accepted', 'True', ''], ['ResolvedRefs', 'True', '']] })),
    ...(c.acceptedOnly ?? []).map((route): RouteStatus => ({ route, gateway, conditions: [['Accepted', 'True', '']] })),
    ...(c.routeStatus ?? []),
  ];
  let failures: string[] = [];
  const deadline = Date.now() + 10_000;
  do {
    const all = await intents();
    failures = wanted.flatMap((s) => parentMismatch(all, s) ?? []);
    for (const { gateway: g, listeners } of c.attachedRoutes ?? []) {
      const gw = find(all, 'Gateway', g);
      const got = Object.fromEntries(((gw?.listeners ?? []) as Json[]).map((l) => [l.name, l.attachedRoutes]));
      for (const [l, n] of Object.entries(listeners)) if (got[l] !== n) failures.push(`Gateway ${g} listener ${l}: attachedRoutes ${String(got[l])}, expected ${n}`);
    }
    if (failures.length > 0) await new Promise((r) => setTimeout(r, 200));
  } while (failures.length > 0 && Date.now() < deadline);
  return failures.map((f) => `status: ${f}`);
}

async function check(c: GatewayCase, e: GatewayExpectation): Promise<string | undefined> {
  return untilConsecutive(async () => {
    const res = await suite
      .request(e.gateway ?? c.gateway ?? SAME_NAMESPACE, { ...e.request, tls: e.https === true })
      .then((x) => ({ x, error: undefined }), (err: Error) => ({ x: undefined, error: err.message }));
    return res.x ? mismatch(e, res.x) : `request failed: ${res.error}`;
  });
}

/** weight.go: 500 requests, 10 at a time; each backend's share within 5 points of its weight. Three tries (the suite allows ten). */
async function checkWeights(c: GatewayCase): Promise<string | undefined> {
  let why: string | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const counts = new Map<string, number>();
    let next = 0;
    await Promise.all(Array.from({ length: 10 }, async () => {
      while (next < 500) {
        next++;
        const res = await suite.request(c.gateway ?? SAME_NAMESPACE, { path: '/' }).catch((e: Error) => ({ status: 0, echo: undefined, error: e.message }));
        const backend = (res.echo?.pod ?? `status ${res.status}`).replace(/-0$/, '');
        counts.set(backend, (counts.get(backend) ?? 0) + 1);
      }
    }));
    const off = Object.entries(c.weights!).filter(([b, w]) => Math.abs((counts.get(b) ?? 0) / 500 - w) > 0.05);
    const strangers = [...counts.keys()].filter((b) => !(b in c.weights!));
    why = off.length === 0 && strangers.length === 0 ? undefined : `distribution ${JSON.stringify(Object.fromEntries(counts))} of 500, expected ${JSON.stringify(c.weights)} ±5 points`;
    if (!why) return undefined;
  }
  return why;
}

/** The Gateways a manifest declares (`ns/name`): started for the case, stopped after it. */
function declaredGateways(yaml: string): string[] {
  return objectsOf(yaml).filter((o) => o.kind === 'Gateway').map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
}

/** The manifest without one object (`Kind ns/name`), as `kubectl delete` leaves the cluster. */
function without(yaml: string, object: string): string {
  return yamlOf(objectsOf(yaml).filter((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}` !== object));
}

async function runCase(c: GatewayCase): Promise<string[]> {
  const manifest = c.prepare ? yamlOf(c.prepare(objectsOf(caseManifest(c.manifest)), suite.mesh.pods)) : caseManifest(c.manifest);
  const own = declaredGateways(manifest);
  await suite.apply('case.yaml', manifest);
  try {
    const failures = await checkStatus(c);
    const expect = async (list: readonly GatewayExpectation[]) => {
      for (const [i, e] of list.entries()) {
        const why = await check(c, e);
        if (why) failures.push(`${e.name ?? `${i} ${e.gateway ? `${e.gateway} ` : ''}${e.request.host ?? ''}${e.request.path ?? '/'}`}: ${why}`);
      }
    };
    await expect(c.expectations ?? []);
    if (c.weights && failures.length === 0) {
      const why = await checkWeights(c);
      if (why) failures.push(`weights: ${why}`);
    }
    if (c.thenDelete) {
      await suite.apply('case.yaml', without(manifest, c.thenDelete.object));
      await expect(c.thenDelete.expectations);
    }
    return failures;
  } finally {
    for (const g of own) await suite.stopGateway(g);
    await suite.remove('case.yaml');
  }
}

/** A status check of a status-only case, polled until it holds or 10 s pass (the suite's timeouts are longer; Trellis answers in well under one). */
async function statusWithin(check: StatusCheck, generations: ReadonlyMap<string, number>, skipReadiness: ReadonlySet<string>): Promise<string[]> {
  let failures: string[] = [];
  const deadline = Date.now() + 10_000;
  do {
    failures = statusMismatches(await intents(), check, generations, skipReadiness);
    if (failures.length > 0) await new Promise((r) => setTimeout(r, 200));
  } while (failures.length > 0 && Date.now() < deadline);
  return failures;
}

/** A status-only case: its manifest, its checks, then each edit (the .go's Patch) and the checks after it. No gateway Envoy: nothing is requested. */
async function runStatusCase(c: StatusCase): Promise<string[]> {
  const objects = objectsOf(caseManifest(c.manifest));
  const ref = (o: Json) => objectRef(o.kind, o.metadata.namespace, o.metadata.name);
  const skip = new Set(objects.filter((o) => o.kind === 'Gateway' && o.metadata.annotations?.['gateway-api/skip-this-for-readiness'] === 'true').map((o) => `${o.metadata.namespace}/${o.metadata.name}`));
  /** How many versions of each object the test wrote (the file source numbers them from 1). */
  const generations = new Map<string, number>();
  await suite.apply('case.yaml', yamlOf(objects));
  try {
    const failures = await statusWithin(c.check, generations, skip);
    for (const e of c.edits ?? []) {
      if (failures.length > 0) break;
      const o = objects.find((x) => ref(x) === e.object);
      if (!o) throw new Error(`${c.name}: no ${e.object} in tests/${c.manifest}`);
      e.change(o);
      generations.set(e.object, (generations.get(e.object) ?? 1) + 1);
      await suite.apply('case.yaml', yamlOf(objects));
      // "generation should change after an update": the edited object's status must describe its new generation.
      const check = { ...e.check, latest: [...(e.check.latest ?? []), e.object] };
      failures.push(...(await statusWithin(check, generations, skip)).map((f) => `after the edit of ${e.object}: ${f}`));
    }
    return failures;
  } finally {
    await suite.remove('case.yaml');
  }
}

describe(`issue 10: Gateway API ${GATEWAY_API_VERSION} GATEWAY-HTTP core conformance cases on a real gateway Envoy and echo-basic`, () => {
  for (const c of GATEWAY_CASES) {
    it(`${c.name} (tests/${c.go})`, async () => {
      const failures = await runCase(c);
      if (c.unsupported) {
        results.set(c.name, { result: 'unsupported', why: `${c.unsupported} (${failures.join('; ')})` });
        expect(failures.map((f) => f.slice(0, f.indexOf(':'))), `${c.name}: what fails is not what gateway-http-cases.ts says`).toEqual(c.failing);
        return;
      }
      results.set(c.name, failures.length === 0 ? { result: 'passed', why: '' } : { result: 'failed', why: failures.join('; ') });
      expect(failures).toEqual([]);
    }, 180_000);
  }

  for (const c of STATUS_CASES) {
    it(`${c.name} (tests/${c.go}): status only`, async () => {
      const failures = await runStatusCase(c);
      if (c.unsupported) {
        results.set(c.name, { result: 'unsupported', why: c.unsupported });
        expect(failures, `${c.name} is said to be unsupported but passes`).not.toEqual([]);
        return;
      }
      results.set(c.name, failures.length === 0 ? { result: 'passed', why: '' } : { result: 'failed', why: failures.join('; ') });
      expect(failures).toEqual([]);
    }, 60_000);
  }

  it('docs/gateway-api-conformance.md states these results (GATEWAY-HTTP)', () => {
    const rows = [...GATEWAY_CASES, ...STATUS_CASES].map((c) => {
      const r = results.get(c.name) ?? { result: 'failed', why: 'not run' };
      const why = r.result === 'unsupported' ? c.unsupported! : r.why;
      return `| ${c.name} | ${r.result} | ${why.replaceAll('|', '\\|')} |`;
    });
    const table = ['| Case | Result | Why |', '|---|---|---|', ...rows].join('\n');
    syncDocTable('gateway-http-table', table, 'the GATEWAY-HTTP table');
  });
});
