/** `trellis validate` as an operator runs it: the real binary on a temp folder. */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'trellis.js');

function trellis(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const GOOD = `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: demo
spec:
  ports:
  - name: http
    port: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: web-v1
  namespace: demo
spec:
  ports:
  - name: http
    port: 8080
`;

const BAD = `apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata:
  name: web
  namespace: demo
spec:
  service: web
  backends:
  - service: web-v1
    weigth: 90
  - service: web-v2
    weight: 10
`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trellis-validate-'));
  await mkdir(join(dir, 'good', 'nested'), { recursive: true });
  await writeFile(join(dir, 'good', 'nested', 'services.yaml'), GOOD);
  await writeFile(join(dir, 'split.yaml'), BAD);
  await writeFile(join(dir, 'broken.yaml'), 'apiVersion: v1\nkind: Service\nmetadata:\n  name: [x\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('trellis validate', () => {
  it('exits 0 on a clean directory', async () => {
    const r = await trellis(['validate', 'good'], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('2 objects in 1 file: 0 errors');
  });

  it('prints path:line: Kind ns/name: field: message and exits 1 on errors', async () => {
    const r = await trellis(['validate', 'good', 'split.yaml', 'broken.yaml'], dir);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toContainEqual(expect.stringMatching(/^split\.yaml:10: TrafficSplit demo\/web: spec\.backends\[0\]\.weigth: .*"weight"/));
    expect(lines).toContainEqual(expect.stringMatching(/^split\.yaml:9: TrafficSplit demo\/web: spec\.backends\[0\]\.weight: /));
    expect(lines).toContainEqual(expect.stringMatching(/^split\.yaml:11: TrafficSplit demo\/web: spec\.backends\[1\]\.service: .*web-v2/));
    expect(lines).toContainEqual(expect.stringMatching(/^broken\.yaml:5: document 1: -: YAML syntax/));
    // sorted by file, then line
    expect(lines[0]).toMatch(/^broken\.yaml:/);
  });

  it('issue 16 bug 8: a second MeshConfig is reported at its own file too, not only at the operator\'s', async () => {
    const mesh = (name: string) => `apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata:\n  name: ${name}\nspec:\n  trustDomain: ${name}.local\n`;
    await mkdir(join(dir, 'two-meshes'));
    await writeFile(join(dir, 'two-meshes', 'mesh.yaml'), mesh('trellis'));
    await writeFile(join(dir, 'two-meshes', 'evil.yaml'), mesh('evil'));
    const r = await trellis(['validate', 'two-meshes'], dir);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toContainEqual(expect.stringMatching(/^two-meshes\/evil\.yaml:4: MeshConfig evil: metadata\.name: .*two-meshes\/mesh\.yaml:1/));
    expect(lines).toContainEqual(expect.stringMatching(/^two-meshes\/mesh\.yaml:4: MeshConfig trellis: metadata\.name: .*two-meshes\/evil\.yaml:1/));
  });

  /**
   * The one line `trellis validate examples/demo` prints in a checkout (examples/demo/ingress.yaml),
   * or nothing once `npm run demo` has run there: it writes that Secret to local/ (git-ignored).
   */
  const DEMO_WARNING = /^(?:examples\/demo\/ingress\.yaml:\d+: Gateway demo\/ingress: spec\.listeners\[1\]\.tls\.certificateRefs\[0\]\.name: warning: Secret "ingress-tls" does not exist in namespace "demo"\n)?$/;

  it('passes on the demo mesh (one warning in a checkout where the demo never ran: the ingress certificate `trellis demo` writes at start)', async () => {
    const r = await trellis(['validate', 'examples/demo'], ROOT);
    expect(r.stdout).toMatch(DEMO_WARNING);
    expect(r.code).toBe(0);
  });

  it('issue 16 bug 4: --trust-domain refuses a MeshConfig naming another trust domain, as a running serve does', async () => {
    const same = await trellis(['validate', '--trust-domain', 'trellis.local', 'examples/demo'], ROOT);
    expect(same.code).toBe(0);
    expect(same.stdout).toMatch(DEMO_WARNING);
    const other = await trellis(['validate', '--trust-domain', 'other.local', 'examples/demo'], ROOT);
    expect(other.code).toBe(1);
    expect(other.stdout).toMatch(/^(?:.*ingress-tls.*\n)?examples\/demo\/mesh\.yaml:13: MeshConfig trellis: spec\.trustDomain: the trust domain cannot change while Trellis runs: .*"other\.local"/);
  });

  const usage: { name: string; args: string[] }[] = [
    { name: 'no paths', args: ['validate'] },
    { name: 'a path that does not exist', args: ['validate', 'nope'] },
    { name: 'an unknown option', args: ['validate', '--strict', 'good'] },
  ];
  it.each(usage)('exits 2 on a usage error: $name', async ({ args }) => {
    const r = await trellis(args, dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('usage: trellis validate');
  });
});
