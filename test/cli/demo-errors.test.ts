/** `trellis demo` refuses clearly, and leaves nothing running, when Envoy cannot be found. */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('trellis demo without Envoy', () => {
  it('ENVOY_BIN pointing nowhere: exit 1, a message naming the fix, nothing started', () => {
    const r = spawnSync(process.execPath, ['bin/trellis.js', 'demo', '--state-dir', '.trellis/demo-missing-envoy', '--xds-address', '127.0.0.1:18790', '--admin-address', '127.0.0.1:19790'], {
      env: { ...process.env, ENVOY_BIN: '/nonexistent/envoy' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/trellis demo: ENVOY_BIN=\/nonexistent\/envoy does not exist/);
    // Nothing listens on the ports it would have used.
    const ps = spawnSync('sh', ['-c', 'ss -ltn | grep -c ":18790\\|:19790" || true'], { encoding: 'utf8' });
    expect(ps.stdout.trim()).toBe('0');
  });
});
