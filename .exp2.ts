import { MeshHarness, sidecarNode } from './test/support/mesh-harness.ts';
import { shopFiles, intentsYaml } from './test/pipeline/shop.ts';
const h = await MeshHarness.start(shopFiles('Permissive'));
const p = await h.sidecar(sidecarNode('sc', 'shop/frontend'));
const edits: Record<string,string> = {
  zero: intentsYaml({ weights: [0, 0] }),
  unknown: intentsYaml({ secondBackend: 'reviews-v3' }),
  typo: intentsYaml({ reviewsRetries: '  retires:\n    attempts: 2\n' }),
  malformed: intentsYaml().replace('  service: reviews\n  backends:', '  service: reviews\n backends:'),
};
for (const [k, text] of Object.entries(edits)) {
  await h.write({ 'intents.yaml': text });
  const got = await p.settle(300);
  const i = await h.intents();
  console.log('==', k, 'gen', i.generation, 'got', JSON.stringify(got));
  console.log(JSON.stringify(i.sourceErrors));
  for (const s of i.intents) if (s.problems.length || s.servedGeneration) console.log(JSON.stringify(s));
  await h.write({ 'intents.yaml': intentsYaml() });
  console.log('restore', JSON.stringify(await p.settle(300)));
}
await h.close();
