/**
 * main.ts is the one place where what a command throws becomes an exit code:
 * a usage error exits 2 (with the command's usage line, where it has one), an
 * operator's problem exits 1 with `trellis <cmd>: <message>` and no stack
 * trace, whichever command it comes from. The real binary, as an operator
 * runs it.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'trellis.js');

function trellis(args: string[]): Promise<{ code: number | string; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // A command that should exit but hangs is killed: its code is then the signal.
    execFile(process.execPath, [BIN, ...args], { cwd: dir, timeout: 20_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : (err.signal ?? 'failed')) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

let dir: string;
let taken: net.Server;
let takenPort: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trellis-exit-'));
  taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  takenPort = (taken.address() as net.AddressInfo).port;
});
afterAll(async () => {
  await new Promise((resolve) => taken.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe('trellis exit codes', () => {
  const cases: Array<{ name: string; args: () => string[]; code: number; stderr: RegExp; usage?: RegExp }> = [
    { name: 'unknown command', args: () => ['nope'], code: 2, stderr: /^trellis: unknown command "nope"/ },
    { name: 'serve: a bad flag value', args: () => ['serve', '--source', 'nowhere'], code: 2, stderr: /^trellis serve: --source nowhere: expected file:<dir> or kubernetes$/m, usage: /^usage: trellis serve /m },
    { name: 'certs: an unknown option is not a missing server', args: () => ['certs', '--bogus'], code: 2, stderr: /^trellis certs: unknown option --bogus\n$/ },
    { name: 'bootstrap: no such pod', args: () => ['bootstrap', '--workload', 'demo/nope', '--source', `file:${join(ROOT, 'examples/demo')}`, '--plaintext'], code: 1, stderr: /^trellis bootstrap: no Pod demo\/nope in .*known: demo\/frontend/m },
    { name: 'serve: the injection webhook without a cluster', args: () => ['serve', '--source', 'file:.', '--webhook-address', '127.0.0.1:0'], code: 2, stderr: /^trellis serve: --webhook-address: the injection webhook needs --source kubernetes$/m, usage: /^usage: trellis serve /m },
    { name: 'serve: a webhook option without the webhook', args: () => ['serve', '--source', 'kubernetes', '--webhook-dns-names', 'x'], code: 2, stderr: /^trellis serve: --webhook-dns-names configures the injection webhook: add --webhook-address H:P$/m, usage: /^usage: trellis serve /m },
    { name: 'serve: an injected-pod option without a cluster', args: () => ['serve', '--source', 'file:.', '--inject-image', 'x'], code: 2, stderr: /^trellis serve: --inject-image configures the pods Trellis injects or runs in a cluster: it needs --source kubernetes$/m, usage: /^usage: trellis serve /m },
    { name: 'issue 10: serve --gateway-deployments takes true or false', args: () => ['serve', '--source', 'kubernetes', '--gateway-deployments', 'no'], code: 2, stderr: /^trellis serve: --gateway-deployments no: expected true or false$/m, usage: /^usage: trellis serve /m },
    { name: 'issue 10: ca issue-tls needs the Secret\'s name', args: () => ['ca', 'issue-tls', '--state-dir', join(dir, 'no-ca')], code: 2, stderr: /^trellis ca: ca issue-tls needs --secret NAMESPACE\/NAME/m, usage: /^usage: trellis ca /m },
    { name: 'issue 10: ca issue-tls: an IP it cannot read', args: () => ['ca', 'issue-tls', '--secret', 'demo/web', '--ip', '10.0.0.300'], code: 2, stderr: /^trellis ca: --ip 10\.0\.0\.300: expected IP addresses/m, usage: /^usage: trellis ca /m },
    { name: 'issue 10: ca issue-tls never creates a CA', args: () => ['ca', 'issue-tls', '--secret', 'demo/web', '--state-dir', join(dir, 'no-ca')], code: 1, stderr: /^trellis ca: no mesh CA in .*no-ca: start `trellis serve --state-dir .*` first/m },
    { name: 'serve: a missing kubeconfig', args: () => ['serve', '--source', 'kubernetes', '--kubeconfig', join(dir, 'missing'), '--state-dir', join(dir, 'state-kube'), '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0'], code: 1, stderr: /^trellis serve: kubeconfig .*missing: no such file$/m },
    // It must also exit: what had started (the folder watcher, the CA) is stopped.
    { name: 'serve: the xDS port is taken', args: () => ['serve', '--source', `file:${dir}`, '--state-dir', join(dir, 'state-port'), '--xds-address', `127.0.0.1:${takenPort}`, '--admin-address', '127.0.0.1:0'], code: 1, stderr: /^trellis serve: cannot listen on 127\.0\.0\.1:\d+ for xDS: the address is already in use/m },
    { name: 'serve: the admin port is taken', args: () => ['serve', '--source', `file:${dir}`, '--state-dir', join(dir, 'state-admin'), '--xds-address', '127.0.0.1:0', '--admin-address', `127.0.0.1:${takenPort}`], code: 1, stderr: /^trellis serve: cannot listen on 127\.0\.0\.1:\d+ for the admin API: the address is already in use/m },
  ];
  it.each(cases)('$name: exit $code', async ({ args, code, stderr, usage }) => {
    const r = await trellis(args());
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).toMatch(stderr);
    if (usage) expect(r.stderr).toMatch(usage);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('a reader that stops early (trellis install | head): exit 0, no EPIPE stack trace', async () => {
    const child = spawn(process.execPath, [BIN, 'install'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).not.toMatch(/EPIPE|\n\s+at /);
    expect(code).toBe(0);
  });

  it('--help: each command apart from its summary, the longest name too', async () => {
    const r = await trellis(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}workload-certs {2,}write /m);
    expect(r.stdout).toMatch(/^ {2}ca {2,}the mesh CA/m);
  });

  it('serve --help lists its options, --max-delay-ms among them', async () => {
    const r = await trellis(['serve', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ +--max-delay-ms MS /m);
    expect(r.stdout).toMatch(/--state-dir D .*default \.trellis/);
  });
});
