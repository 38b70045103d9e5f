/**
 * What a conformance expectation compares in an answer (the MESH cases,
 * test/e2e/gateway-api-mesh.test.ts, and the GATEWAY-HTTP cases,
 * test/e2e/gateway-api-gateway.test.ts): test/support/gamma-cases.ts says
 * what each field means and where the suite compares it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import type { Expectation, MeshCase } from './gamma-cases.ts';
import type { MeshResponse } from './gamma-mesh.ts';

const lower = (h: Record<string, string[]>) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));

/** What is wrong with an answer, or undefined when it meets the expectation (gamma-cases.ts says what is compared). */
export function mismatch(e: Expectation, res: MeshResponse): string | undefined {
  const codes = e.status ?? [200];
  if (!codes.includes(res.status)) return `status ${res.status}, expected ${codes.join(' or ')}`;
  const seen = lower(res.echo?.headers ?? {});
  for (const [k, v] of Object.entries(e.requestHeaders ?? {})) {
    if (!res.echo) return 'no echo of the request (not answered by echo-basic)';
    const got = seen[k.toLowerCase()];
    if (!got) return `request header ${k} not set (backend saw ${JSON.stringify(res.echo.headers)})`;
    if (got.join(',') !== v) return `request header ${k}: ${got.join(',')}, expected ${v}`;
  }
  for (const k of e.absentRequestHeaders ?? []) if (seen[k.toLowerCase()]) return `request header ${k} present: ${seen[k.toLowerCase()]!.join(',')}`;
  for (const [k, v] of Object.entries(e.responseHeaders ?? {})) if (res.headers[k.toLowerCase()] !== v) return `response header ${k}: ${String(res.headers[k.toLowerCase()])}, expected ${v}`;
  for (const k of e.absentResponseHeaders ?? []) if (res.headers[k.toLowerCase()] !== undefined) return `response header ${k} present`;
  if (e.backend && !(res.echo?.pod ?? '').startsWith(e.backend)) return `answered by ${res.echo?.pod ?? '(no echo)'}, expected ${e.backend}`;
  if (e.namespace && res.echo?.namespace !== e.namespace) return `answered from namespace ${res.echo?.namespace ?? '(no echo)'}, expected ${e.namespace}`;
  if (e.requestPath !== undefined && res.echo?.path !== e.requestPath) return `backend saw path ${res.echo?.path}, expected ${e.requestPath}`;
  if (e.redirect) {
    const location = res.headers.location;
    if (!location) return 'no Location header';
    const u = new URL(location, 'http://echo');
    const got = { scheme: u.protocol.replace(':', ''), host: u.hostname, port: u.port, path: u.pathname };
    for (const [k, v] of Object.entries(e.redirect) as [keyof typeof got, string][]) if (got[k] !== v) return `Location ${location}: ${k} ${got[k] || '(none)'}, expected ${v}`;
  }
  return undefined;
}


/** Consecutive matching answers an expectation needs (the suite's RequiredConsecutiveSuccesses), within a bounded number of tries. */
const CONSECUTIVE = 3;
const MAX_TRIES = 20;

/**
 * Runs `attempt` (a request and its comparison: undefined when it matched,
 * else what was wrong) until CONSECUTIVE attempts in a row match, at most
 * MAX_TRIES times; undefined when they did, else the last mismatch.
 */
export async function untilConsecutive(attempt: () => Promise<string | undefined>): Promise<string | undefined> {
  let streak = 0;
  let last: string | undefined;
  for (let i = 0; i < MAX_TRIES && streak < CONSECUTIVE; i++) {
    last = await attempt();
    streak = last === undefined ? streak + 1 : 0;
    if (last !== undefined) await new Promise((r) => setTimeout(r, 100));
  }
  return streak >= CONSECUTIVE ? undefined : last;
}

const DOC = path.resolve(import.meta.dirname, '../../docs/gateway-api-conformance.md');

/**
 * The table between `<!-- <marker>:begin -->` and `<!-- <marker>:end -->` in
 * docs/gateway-api-conformance.md: rewritten with UPDATE_CONFORMANCE_DOC=1,
 * else compared (the doc must say what the run found).
 */
export function syncDocTable(marker: string, table: string, what: string): void {
  const text = readFileSync(DOC, 'utf8');
  const begin = `<!-- ${marker}:begin -->`;
  const end = `<!-- ${marker}:end -->`;
  const current = text.slice(text.indexOf(begin) + begin.length, text.indexOf(end)).trim();
  if (process.env.UPDATE_CONFORMANCE_DOC === '1') writeFileSync(DOC, `${text.slice(0, text.indexOf(begin) + begin.length)}\n${table}\n${text.slice(text.indexOf(end))}`);
  else expect(current, `${what} in docs/gateway-api-conformance.md is out of date: run with UPDATE_CONFORMANCE_DOC=1`).toBe(table);
}

/** The rows of the table between the `marker` comments of docs/gateway-api-conformance.md. */
export function docTableRows(marker: string): string[] {
  const text = readFileSync(DOC, 'utf8');
  const begin = `<!-- ${marker}:begin -->`;
  return text.slice(text.indexOf(begin) + begin.length, text.indexOf(`<!-- ${marker}:end -->`)).trim().split('\n');
}

/**
 * A MESH case's row of the conformance table (test/e2e/gateway-api-mesh.test.ts
 * writes the table; gateway-api-mesh-transparent.test.ts checks the rows of
 * the cases it runs, which say where they passed).
 */
export function meshDocRow(c: MeshCase, result: 'passed' | 'failed' | 'unsupported', why: string): string {
  const said = result === 'unsupported' ? c.unsupported! : c.transparent && result === 'passed' ? TRANSPARENT_WHY : why;
  return `| ${c.name} | ${c.features ?? '-'} | ${result} | ${said.replaceAll('|', '\\|')} |`;
}

const TRANSPARENT_WHY = 'with transparent-mode sidecars (iptables redirect, network namespaces): test/e2e/gateway-api-mesh-transparent.test.ts';
