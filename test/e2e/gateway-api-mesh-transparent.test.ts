/**
 * issue 10: the two MESH conformance cases that need routing by the address
 * a pod connected to — MeshFrontend (a call to the echo-v2 pod's own address
 * is not the Service's, so its route does not apply) and MeshFrontendHostname
 * (MeshClusterIPMatching: the Service connected to decides, not the Host) —
 * run with transparent-mode sidecars: the redirect `trellis inject` writes
 * (iptables) and a real Envoy in each pod's network namespace, the suite's
 * echo-basic behind each, the case's own manifest and the expectations of its
 * .go (test/support/gamma-cases.ts). The explicit-mode run
 * (gateway-api-mesh.test.ts) cannot: its sidecars have only the Host to go by.
 *
 * Needs root (network namespaces, iptables): skipped otherwise, like the other
 * netns tests. Two pods (echo-v1 calls, echo-v2 answers), 10.77.0.x inside
 * private namespaces (test/support/mesh-frontend-main.ts); bounded: at most 10
 * requests per expectation, every process stopped by the helper.
 * The rows of docs/gateway-api-conformance.md for these cases are checked here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MESH_CASES } from '../support/gamma-cases.ts';
import type { MeshResponse } from '../support/gamma-mesh.ts';
import { mismatch, meshDocRow, docTableRows } from '../support/conformance-compare.ts';
import { netnsUnavailable, runInPodHarness } from '../support/netns.ts';
import { repoRoot } from '../support/venv.ts';

const tmp = mkdtempSync(path.join(tmpdir(), 'trellis-fe-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const why = netnsUnavailable({ bins: ['setpriv', 'curl'] });
if (why) console.warn(`test/e2e/gateway-api-mesh-transparent.test.ts skipped: ${why}`);

const CASES = MESH_CASES.filter((c) => c.transparent);

describe.skipIf(why !== null)('issue 10: MESH cases routed by original destination, transparent-mode sidecars in network namespaces', () => {
  it(`${CASES.map((c) => c.name).join(' and ')} pass; the conformance table says so`, () => {
    const r = runInPodHarness(path.join(repoRoot, 'test/support/mesh-frontend-main.ts'), tmp, 150_000, 2, '10.77.0') as Record<string, Record<string, MeshResponse[]>>;
    const rows: string[] = [];
    const failures: string[] = [];
    for (const c of CASES) {
      const failed = c.expectations!.map((e) => {
        const answers = r[c.name]?.[e.name!] ?? [];
        const bad = answers.length < 3 ? 'fewer than 3 answers' : answers.map((a) => mismatch(e, a)).find((m) => m !== undefined);
        return bad ? `${e.name}: ${bad}` : undefined;
      }).filter((f): f is string => f !== undefined);
      failures.push(...failed.map((f) => `${c.name}: ${f}`));
      rows.push(meshDocRow(c, failed.length === 0 ? 'passed' : 'failed', failed.join('; ')));
    }
    expect(failures).toEqual([]);
    expect(docTableRows('conformance-table').filter((row) => CASES.some((c) => row.startsWith(`| ${c.name} |`)))).toEqual(rows);
  }, 160_000);
});
