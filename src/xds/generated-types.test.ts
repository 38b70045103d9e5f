/**
 * src/xds/generated/ is what scripts/gen-envoy-types.sh writes from the
 * protos Trellis loads: a manifest or package change without regenerating
 * would leave the builders typed against protos that are not the ones encoded.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('generated Envoy types', () => {
  it('are up to date with protos/envoy-manifest.json (bash scripts/gen-envoy-types.sh --check)', async () => {
    const { stdout } = await promisify(execFile)('bash', [path.join(ROOT, 'scripts/gen-envoy-types.sh'), '--check'], { cwd: ROOT });
    expect(stdout).toContain('up to date');
  }, 60_000);
});
