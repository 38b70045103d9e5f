/**
 * The two servers of the peer benchmark (bench/peer.ts), as processes spoken
 * to alike over one line protocol: Trellis (bench/peer-trellis-main.ts) and
 * the go-control-plane peer (bench/go-control-plane/main.go, built by
 * scripts/setup-go-control-plane.sh) with its SnapshotCache or LinearCache.
 * Each runs in its own process, so its CPU and memory are read the same way
 * from /proc.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { procCpuMs } from './proc.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const SETUP = 'scripts/setup-go-control-plane.sh';

export type ServerKind = 'trellis' | 'snapshot' | 'linear';
export const SERVER_KINDS: readonly ServerKind[] = ['trellis', 'snapshot', 'linear'];
export const SERVER_LABEL: Record<ServerKind, string> = { trellis: 'Trellis', snapshot: 'gcp SnapshotCache', linear: 'gcp LinearCache' };

/** The peer's binary, built by the setup script; a clear error naming the script when it is missing. */
export function goControlPlaneBinary(): string {
  const bin = execFileSync('bash', [path.join(root, SETUP), '--path'], { encoding: 'utf8' }).trim();
  if (!existsSync(bin)) throw new Error(`the go-control-plane peer is not built (${bin} is missing): run \`bash ${SETUP}\``);
  return bin;
}

export interface ServerOptions {
  services: number;
  /** repeats of the edits: the Trellis side encodes them itself */
  edits: number;
  /** the resources Trellis encoded (bench/peer-trellis-main.ts --dump), for the peer */
  dump: string;
  /** node ids the SnapshotCache holds a snapshot for */
  nodePrefix: string;
  nodes: number;
}

export class ServerProcess {
  private readonly waiting: Array<{ prefix: string; resolve: (fields: string[]) => void }> = [];
  private stderr = '';
  readonly exited: Promise<void>;

  private constructor(
    readonly kind: ServerKind,
    private readonly proc: ChildProcess,
  ) {
    proc.stderr!.on('data', (b: Buffer) => {
      this.stderr = (this.stderr + b.toString()).slice(-2000);
    });
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const fields = line.split(' ');
      const i = this.waiting.findIndex((w) => w.prefix === fields[0]);
      if (i >= 0) this.waiting.splice(i, 1)[0]!.resolve(fields.slice(1));
    });
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
  }

  static start(kind: ServerKind, o: ServerOptions): ServerProcess {
    const proc =
      kind === 'trellis'
        ? spawn(process.execPath, ['--import', 'tsx', path.join(here, 'peer-trellis-main.ts'), '--services', String(o.services), '--edits', String(o.edits)], {
            cwd: root,
            stdio: ['pipe', 'pipe', 'pipe'],
            env: { ...process.env, TRELLIS_LOG_LEVEL: 'error' },
          })
        : spawn(goControlPlaneBinary(), ['-dump', o.dump, '-cache', kind, '-nodes', String(o.nodes), '-node-prefix', o.nodePrefix], { stdio: ['pipe', 'pipe', 'pipe'] });
    return new ServerProcess(kind, proc);
  }

  private line(prefix: string, timeoutMs: number): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const entry = { prefix, resolve: (f: string[]) => (clearTimeout(timer), resolve(f)) };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(entry), 1);
        reject(new Error(`${SERVER_LABEL[this.kind]}: no "${prefix}" within ${timeoutMs} ms${this.stderr ? `: ${this.stderr.trim()}` : ''}`));
      }, timeoutMs);
      this.waiting.push(entry);
      void this.exited.then(() => reject(new Error(`${SERVER_LABEL[this.kind]} exited before "${prefix}"${this.stderr ? `: ${this.stderr.trim()}` : ''}`)));
    });
  }

  /** Its xDS port, the resources it serves, and their encoded size as given and as it serves them. */
  async ready(): Promise<{ port: number; resources: number; bytesIn: number; bytesServed: number }> {
    const [port, resources, bytesIn, bytesServed] = (await this.line('ready', 120_000)).map(Number);
    return { port: port!, resources: resources!, bytesIn: bytesIn!, bytesServed: bytesServed! };
  }

  /** Applies edit `i`; resolves with the time the server spent applying it (µs), its fan-out not included. */
  async apply(i: number): Promise<number> {
    const reply = this.line('applied', 60_000);
    this.proc.stdin!.write(`apply ${i}\n`);
    return Number((await reply)[1]);
  }

  cpuMs(): number {
    return procCpuMs(this.proc.pid);
  }

  rssMiB(): number {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.proc.pid}/status`, 'utf8'));
      return m ? Math.round(Number(m[1]) / 1024) : NaN;
    } catch {
      return NaN;
    }
  }

  async stop(): Promise<void> {
    this.proc.stdin!.end();
    const killer = setTimeout(() => this.proc.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(killer);
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}
