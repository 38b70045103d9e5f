/**
 * What the network-namespace helpers (the `*-main.ts` scripts netns.ts
 * runInPodHarness runs) share: the processes they start, each logging into
 * the work dir (whose logs the harness prints on failure) and all killed at
 * the end, Trellis on the helper's mesh, and an entry point that exits 0, or 1 with the error on stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { componentLogger } from '../../src/log.ts';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';

export class HelperProcesses {
  private readonly children: ChildProcess[] = [];

  constructor(private readonly dir: string) {}

  /** `cmd args`, its stdout and stderr appended to `<dir>/<log>`. */
  run(cmd: string, args: string[], log: string): ChildProcess {
    const fd = openSync(path.join(this.dir, log), 'a');
    const c = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
    this.children.push(c);
    return c;
  }

  killAll(): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}

/** Runs the helper's `main`, kills what it left running, and exits with its outcome. */
export function runHelper(procs: HelperProcesses, main: () => Promise<void>): void {
  main().then(
    () => {
      procs.killAll();
      process.exit(0);
    },
    (e: Error) => {
      process.stderr.write(`${e.stack ?? e.message}\n`);
      procs.killAll();
      process.exit(1);
    },
  );
}

/** Trellis on `meshYaml` (written to `<dir>/mesh`), its state in `<dir>/state`, xDS on `xdsAddress`. */
export async function startPlane(dir: string, meshYaml: string, xdsAddress: string): Promise<{ server: RunningControlPlane; stateDir: string }> {
  const meshDir = path.join(dir, 'mesh');
  const stateDir = path.join(dir, 'state');
  mkdirSync(meshDir, { recursive: true });
  writeFileSync(path.join(meshDir, 'mesh.yaml'), meshYaml);
  const server = await startControlPlane({ xdsAddress, adminAddress: '127.0.0.1:19000', sourceDir: meshDir, stateDir, log: componentLogger('trellis') });
  return { server, stateDir };
}
