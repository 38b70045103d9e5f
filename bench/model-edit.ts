/**
 * Issue 14, the model side of an edit: on the 1,000 × 1,000 mesh of
 * bench/scale.ts written to a folder, each edit of the scale bench (a
 * TrafficPolicy, a split weight, a service added) goes through the real file
 * watcher (re-read, parse) and the model build (buildMeshKeepingLastGood),
 * without translation or streams: the CPU of everything before translation,
 * per phase, p50 and max over --runs edits. CPU figures, never assertions.
 *
 *   scripts/bench.sh model-edit [--workloads 1000] [--runs 10] [--profile]
 *   (node --expose-gc --import tsx bench/model-edit.ts ...)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { rootLogger } from '../src/log.ts';
import { buildMeshKeepingLastGood, type BuildResult } from '../src/model/index.ts';
import type { SourceObject } from '../src/model/object.ts';
import { FileWatcher, type FileSourceSnapshot } from '../src/sources/file/watch.ts';
import { endpointSlice, meshObjects, namespaceOf, serviceName, DEFAULT_SHAPE } from './translate-mesh.ts';
import { positiveInt } from './options.ts';
import { isIntent, pct, write, yamlOf } from './scale-mesh.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

const cpuNow = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

async function main(): Promise<void> {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { workloads: { type: 'string', default: '1000' }, runs: { type: 'string', default: '10' }, profile: { type: 'boolean', default: false } } });
  const services = positiveInt(values, 'workloads');
  const runs = positiveInt(values, 'runs');
  rootLogger.level = 'error';
  const shape = { ...DEFAULT_SHAPE, services };
  const dir = mkdtempSync(path.join(tmpdir(), 'trellis-model-edit-'));
  const objects = meshObjects(shape);
  const intents = objects.filter(isIntent);
  write(dir, 'mesh.yaml', yamlOf(objects.filter((o) => !isIntent(o) && o.kind !== 'EndpointSlice')));
  write(dir, 'intents.yaml', yamlOf(intents));
  for (let i = 0; i < services; i++) write(dir, `slices/${serviceName(i)}.yaml`, yamlOf([endpointSlice(i, shape)]));

  let snapshot: FileSourceSnapshot | undefined;
  const watcher = new FileWatcher({ root: dir, debounceMs: 600_000, onChange: (s) => (snapshot = s) });
  let c = cpuNow();
  const first = await watcher.start();
  const startCpu = cpuNow() - c;
  c = cpuNow();
  let last: BuildResult = buildMeshKeepingLastGood(first.objects, undefined);
  const firstBuild = cpuNow() - c;
  console.log(`[model-edit] ${services} services: ${first.objects.length} objects; first read ${Math.round(startCpu)} ms CPU, first build ${Math.round(firstBuild)} ms CPU`);

  const replace = (kind: string, edit: (spec: Record<string, any>, k: number) => void) => (k: number) => {
    let done = false;
    const list = intents.map((o): SourceObject => {
      if (done || o.kind !== kind) return o;
      done = true;
      const raw = structuredClone(o.raw) as { spec: Record<string, any> };
      edit(raw.spec, k);
      return { ...o, raw };
    });
    write(dir, 'intents.yaml', yamlOf(list));
  };
  const edits: Array<{ name: string; run: (k: number) => void }> = [
    { name: 'TrafficPolicy change', run: replace('TrafficPolicy', (s, k) => (s.circuitBreaker.maxConnections = 150 + k)) },
    { name: 'split weight change', run: replace('TrafficSplit', (s, k) => { s.backends[0].weight = 80 - (k % 50); s.backends[1].weight = 20 + (k % 50); }) },
    {
      name: 'service added',
      run: (k) => {
        const name = `added-${k}`;
        write(dir, `added/${name}.yaml`, stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: namespaceOf(0, shape) }, spec: { selector: { app: name }, ports: [{ name: 'http', port: 8080 }] } }));
      },
    },
  ];
  const session = values.profile ? await profiler() : undefined;
  for (const edit of edits) {
    const read: number[] = [];
    const build: number[] = [];
    for (let k = 0; k < runs; k++) {
      // Each file's mtime must move: some filesystems keep it to the second.
      await new Promise((r) => setTimeout(r, 20));
      edit.run(k + 1);
      snapshot = undefined;
      const c0 = cpuNow();
      for (let tries = 0; !snapshot && tries < 100; tries++) {
        await watcher.flush();
        if (!snapshot) await new Promise((r) => setTimeout(r, 10));
      }
      const c1 = cpuNow();
      if (!snapshot) throw new Error(`${edit.name}: the watcher saw no change`);
      last = buildMeshKeepingLastGood((snapshot as FileSourceSnapshot).objects, last.accepted, { previousModel: last.model });
      const c2 = cpuNow();
      read.push(c1 - c0);
      build.push(c2 - c1);
      globalThis.gc?.();
    }
    const f = (xs: number[]) => `p50 ${Math.round(pct(xs, 50))} ms, max ${Math.round(pct(xs, 100))} ms`;
    console.log(`  ${edit.name.padEnd(22)} read+parse CPU ${f(read)};  model build CPU ${f(build)}`);
  }
  if (session) await session.stop();
  await watcher.close();
  rmSync(dir, { recursive: true, force: true });
}

async function profiler(): Promise<{ stop(): Promise<void> }> {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop() {
      const { profile } = await session.post('Profiler.stop');
      const file = path.join(here, 'results', 'model-edit.cpuprofile');
      writeFileSync(file, JSON.stringify(profile));
      console.log(`[model-edit] profile: ${file}`);
    },
  };
}

await main();
