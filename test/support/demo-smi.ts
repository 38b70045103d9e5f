/**
 * The demo mesh routed by SMI (examples/smi/intents.yaml in place of
 * examples/demo/intents.yaml, as examples/smi/README.md tells a person to run
 * it): for the tests of SMI behaviour that the demo used to carry (split route
 * names, the split in the model, TrafficSplit problems, `trellis migrate`).
 */
import { copyFileSync, cpSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './venv.ts';

export const DEMO_DIR = path.join(repoRoot, 'examples/demo');
export const SMI_INTENTS = path.join(repoRoot, 'examples/smi/intents.yaml');

/** Puts the SMI intents in place of the demo's in `dir`, a copy of examples/demo. */
export function useSmiIntents(dir: string): void {
  copyFileSync(SMI_INTENTS, path.join(dir, 'intents.yaml'));
}

/** A temp copy of examples/demo with the SMI intents, which the test may edit. */
export function smiDemoCopy(prefix = 'trellis-smi-demo-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  // As a checkout holds it: without the ingress certificate a `trellis demo` run writes to local/ (git-ignored).
  cpSync(DEMO_DIR, dir, { recursive: true, filter: (src) => src !== path.join(DEMO_DIR, 'local', 'ingress-tls.yaml') });
  useSmiIntents(dir);
  return dir;
}
