/**
 * Pipeline (issue 3, "Bad input"): an invalid edit never takes served config
 * away. The connected sidecar sees no change (or exactly the valid part of
 * the change), and /api/v1/intents names the file, line, object and field.
 * Each case starts from the good shop mesh on its own server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { unlinkSync, writeFileSync } from 'node:fs';
import { MeshHarness, sidecarNode, writeYaml, type IntentsView, type ProxyView } from '../support/mesh-harness.ts';
import { intentsYaml, shopFiles } from './shop.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** 1-based line of the first `needle` in `text` (after `after`, when given). */
function lineOf(text: string, needle: string, after = ''): number {
  const from = after ? text.indexOf(after) : 0;
  const at = text.indexOf(needle, from);
  if (from < 0 || at < 0) throw new Error(`fixture has no ${JSON.stringify(needle)}`);
  return text.slice(0, at).split('\n').length;
}

/** The reviews default route's action, as the sidecar holds it. */
function reviewsDefault(p: ProxyView): Record<string, unknown> {
  const r = p.virtualHost('reviews').routes.find((x: { name: string }) => x.name === 'default').route;
  return r.weighted_clusters ? { split: r.weighted_clusters.clusters.map((c: any) => [c.name, c.weight.value]) } : { cluster: r.cluster };
}
/** Responses as `type`, EDS with the names it carried (CDS/LDS are full sets, RDS is `outbound`). */
function pushed(got: Array<{ type: string; names: string[] }>): string[] {
  return got.map((r) => (r.type === 'eds' ? `eds ${r.names.join(',')}` : r.type));
}
const SPLIT_80_20 = { split: [['reviews-v1.shop:8080', 80], ['reviews-v2.shop:8080', 20]] };

interface Expected {
  kind: string;
  name: string;
  reason: string;
  field: string;
  line: (text: string) => number;
}

interface BadEdit {
  name: string;
  /** the new intents.yaml (invalid in some way) */
  intents: string;
  /** what the sidecar receives after the edit (see `pushed`): [] = nothing */
  pushed: string[];
  /** the reviews default route afterwards */
  reviews: Record<string, unknown>;
  /** the object's status in /api/v1/intents (rejected, last good still served) */
  status?: Expected;
  /** or a syntax error for the file */
  sourceError?: { line: (text: string) => number };
  /** extra check on the proxy */
  check?: (p: ProxyView) => void;
}

const MISINDENTED = intentsYaml().replace('  service: reviews\n  backends:', '  service: reviews\n backends:');

const CASES: BadEdit[] = [
  {
    name: 'TrafficSplit weights all zero',
    intents: intentsYaml({ weights: [0, 0] }),
    pushed: [],
    reviews: SPLIT_80_20,
    status: { kind: 'TrafficSplit', name: 'reviews', reason: 'InvalidValue', field: 'spec.backends', line: (t) => lineOf(t, '  backends:', 'name: reviews\n  namespace: shop\nspec:\n  service: reviews\n  backends') },
  },
  {
    name: 'TrafficSplit backend that does not exist',
    intents: intentsYaml({ secondBackend: 'reviews-v3' }),
    pushed: [],
    reviews: SPLIT_80_20,
    status: { kind: 'TrafficSplit', name: 'reviews', reason: 'RefNotFound', field: 'spec.backends[1].service', line: (t) => lineOf(t, '- service: reviews-v3') },
  },
  {
    name: 'TrafficPolicy with a misspelt field (retires)',
    intents: intentsYaml({ reviewsRetries: '  retires:\n    attempts: 5\n' }),
    pushed: [],
    reviews: SPLIT_80_20,
    status: { kind: 'TrafficPolicy', name: 'reviews', reason: 'UnknownField', field: 'spec.retires', line: (t) => lineOf(t, 'retires:') },
    check: (p) => expect(p.virtualHost('reviews').routes.find((r: { name: string }) => r.name === 'default/retry').route.retry_policy.num_retries).toEqual({ value: 2 }),
  },
  {
    name: 'malformed YAML (a mis-indented key)',
    intents: MISINDENTED,
    pushed: [],
    reviews: SPLIT_80_20,
    sourceError: { line: (t) => lineOf(t, ' backends:', 'service: reviews\n backends') },
  },
  {
    name: 'a bad split next to a good policy edit: only the good part is applied',
    intents: intentsYaml({ weights: [0, 0], ratingsMaxRequests: 999 }),
    // An updated cluster gets its endpoints again (XDS rule 20: warming): the caller zone's variant (frontend: zone-a).
    pushed: ['cds', 'eds ratings.shop:8080@zone-a'],
    reviews: SPLIT_80_20,
    status: { kind: 'TrafficSplit', name: 'reviews', reason: 'InvalidValue', field: 'spec.backends', line: (t) => lineOf(t, '  backends:', 'name: reviews\n  namespace: shop\nspec:\n  service: reviews\n  backends') },
    check: (p) => {
      expect(p.cluster('ratings.shop:8080').circuit_breakers.thresholds[0].max_requests).toEqual({ value: 999 });
      expect(p.cluster('ratings.shop:8080').eds_cluster_config.service_name).toBe('ratings.shop:8080@zone-a');
    },
  },
];

let h: MeshHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function start(debounceMs?: number): Promise<{ h: MeshHarness; p: ProxyView }> {
  h = await MeshHarness.start(shopFiles('Permissive'), { debounceMs });
  const p = await h.sidecar(sidecarNode('frontend-1', 'shop/frontend'));
  expect(reviewsDefault(p)).toEqual(SPLIT_80_20);
  return { h, p };
}

function statusOf(view: IntentsView, kind: string, name: string) {
  return view.intents.find((s) => s.kind === kind && s.name === name && s.namespace === 'shop');
}

describe('an invalid edit keeps the last good config served', () => {
  it.each(CASES)('$name', async (c) => {
    const { h, p } = await start();
    await h.write({ 'intents.yaml': c.intents });
    expect(pushed(await p.settle(300))).toEqual(c.pushed);
    expect(reviewsDefault(p)).toEqual(c.reviews);
    c.check?.(p);

    const view = await h.intents();
    const file = h.pathOf('intents.yaml');
    if (c.status) {
      const s = statusOf(view, c.status.kind, c.status.name);
      expect(s, `${c.status.kind} shop/${c.status.name} in /api/v1/intents`).toBeDefined();
      expect(s!.conditions.find((x) => x.type === 'Accepted')).toMatchObject({ status: 'False' });
      expect(s!.servedGeneration).toBe(1);
      expect(s!.generation).toBe(2);
      expect(s!.problems.map((x) => ({ severity: x.severity, reason: x.reason, field: x.field, file: x.file, line: x.line }))).toEqual([
        { severity: 'error', reason: c.status.reason, field: c.status.field, file, line: c.status.line(c.intents) },
      ]);
    }
    if (c.sourceError) {
      expect(view.sourceErrors.map((e) => ({ file: e.file, line: e.line }))).toEqual([{ file, line: c.sourceError.line(c.intents) }]);
      // The file's objects are the last good ones: all still accepted.
      expect(statusOf(view, 'TrafficSplit', 'reviews')?.conditions.find((x) => x.type === 'Accepted')?.status).toBe('True');
    } else {
      expect(view.sourceErrors).toEqual([]);
    }

    // Fixing the file clears the condition; the served config is as before.
    await h.write({ 'intents.yaml': intentsYaml() });
    await p.settle(300);
    expect(reviewsDefault(p)).toEqual(SPLIT_80_20);
    const fixed = await h.intents();
    expect(fixed.sourceErrors).toEqual([]);
    expect(fixed.intents.flatMap((s) => s.problems)).toEqual([]);
  });
});

describe('a file deleted or emptied mid-edit', () => {
  it('deleted and written again within the debounce: the stream sees only the new version', async () => {
    const { h, p } = await start(200);
    const file = h.pathOf('intents.yaml');
    const before = h.generation;
    // What some editors and `git checkout` do: unlink, then create.
    unlinkSync(file);
    await sleep(20);
    writeYaml(h.dir, 'intents.yaml', intentsYaml({ weights: [50, 50] }));
    expect(pushed(await p.settle(600))).toEqual(['rds']);
    expect(reviewsDefault(p)).toEqual({ split: [['reviews-v1.shop:8080', 50], ['reviews-v2.shop:8080', 50]] });
    expect(h.generation).toBe(before + 1);
  });

  it('emptied (truncate, then write): objects are kept while the file is empty', async () => {
    const { h, p } = await start(30);
    const file = h.pathOf('intents.yaml');
    writeFileSync(file, ''); // `>` redirection and some editors truncate first
    await h.server.mesh!.flush();
    expect(await p.silentFor(300)).toBe(true);
    expect(reviewsDefault(p)).toEqual(SPLIT_80_20);
    writeFileSync(file, intentsYaml({ weights: [60, 40] }));
    await h.server.mesh!.flush();
    expect(pushed(await p.settle(300))).toEqual(['rds']);
    expect(reviewsDefault(p)).toEqual({ split: [['reviews-v1.shop:8080', 60], ['reviews-v2.shop:8080', 40]] });
  });

  it('deleted for good: its objects go (deletion is the operator’s intent), the rest stays', async () => {
    const { h, p } = await start();
    await h.remove('intents.yaml');
    // ratings loses its policy, PreferSameZone included (CDS: its endpoints are now the cluster's own), routes lose
    // the splits (RDS, in the same pass); then the endpoints under their new name, once the sidecar asks for them.
    expect(pushed(await p.settle(300))).toEqual(['cds', 'rds', 'eds ratings.shop:8080']);
    expect(p.cluster('ratings.shop:8080').eds_cluster_config.service_name).toBe('ratings.shop:8080');
    expect(p.endpoints('ratings.shop:8080').endpoints.map((l: any) => [l.locality.zone, l.priority ?? 0])).toEqual([['zone-a', 0]]);
    expect(reviewsDefault(p)).toEqual({ cluster: 'reviews.shop:8080' });
    expect(p.names('cds')).toContain('reviews.shop:8080');
    expect((await h.intents()).intents).toEqual([expect.objectContaining({ kind: 'MeshConfig' })]);
  });
});
