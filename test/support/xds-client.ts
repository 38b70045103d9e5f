/**
 * Runs a real xDS client (grpc-js-xds or Python grpcio) as a child process and
 * hands back what it printed. A child process per run because both clients
 * keep process-global xDS state (one XdsClient per bootstrap) that would leak
 * between tests and into vitest's worker.
 *
 * Every run is bounded: a child that outlives its timeout is killed and the
 * promise rejects with the tail of its stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import path from 'node:path';
import type { OnceResult, WatchEvent } from '../interop/client-output.ts';
import type { GrpcXdsBootstrap } from './xds-bootstrap.ts';
import { pythonBin, repoRoot } from './venv.ts';

export type { OnceResult, WatchEvent };
export type XdsClientKind = 'js' | 'py';

export interface XdsClientOptions {
  /** `xds:///name:port`; needs `bootstrap` */
  target?: string;
  /** `host:port` to call a backend without xDS (instead of target) */
  direct?: string;
  bootstrap?: GrpcXdsBootstrap;
  /** once mode: number of calls (default 10) */
  count?: number;
  /** once mode: calls in flight at a time (default 1) */
  concurrency?: number;
  /** per-call deadline (runner default: 5000 once, 1000 watch) */
  deadlineMs?: number;
  /** request metadata sent on every call */
  metadata?: Record<string, string>;
  /** kill the child after this long (once default: 20 s startup + the calls' deadlines) */
  timeoutMs?: number;
  /** extra environment, e.g. { GRPC_TRACE: 'xds_client', GRPC_VERBOSITY: 'DEBUG' } */
  env?: Record<string, string>;
}

export interface XdsWatchOptions extends Omit<XdsClientOptions, 'count' | 'concurrency' | 'timeoutMs'> {
  /** pause between call starts (default 20) */
  intervalMs?: number;
  /** the runner stops itself after this long even if never stopped (default 60 s) */
  maxDurationMs?: number;
}

const RUNNERS: Record<XdsClientKind, () => { command: string; args: string[] }> = {
  js: () => ({
    command: process.execPath,
    args: ['--import', 'tsx', path.join(repoRoot, 'test/interop/js-xds-client.ts')],
  }),
  py: () => ({ command: pythonBin(), args: [path.join(repoRoot, 'test/interop/py_xds_client.py')] }),
};

/** Makes `count` calls and resolves with the runner's tally. */
export async function runXdsClient(kind: XdsClientKind, options: XdsClientOptions): Promise<OnceResult> {
  const count = options.count ?? 10;
  const concurrency = options.concurrency ?? 1;
  const timeoutMs =
    options.timeoutMs ?? 20_000 + Math.ceil(count / concurrency) * (options.deadlineMs ?? 5000);
  const child = spawnRunner(kind, options, [
    '--mode', 'once', '--count', String(count), '--concurrency', String(concurrency),
  ], 'ignore');
  const stdout = collect(child.stdout!);
  const stderr = collect(child.stderr!);

  const code = await exitWithin(child, timeoutMs).catch((err: Error) => {
    throw new Error(`${kind} xDS client: ${err.message}\n${stderr.tail()}`);
  });
  if (code !== 0) throw new Error(`${kind} xDS client exited with ${code}\n${stderr.tail()}`);
  const last = stdout.text().trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(last) as OnceResult;
  } catch {
    throw new Error(`${kind} xDS client printed no result (last line: ${JSON.stringify(last)})\n${stderr.tail()}`);
  }
}

/**
 * A client calling every ~20 ms until stopped. Emits 'event' per call; `events`
 * keeps them all. Typical use, measuring how fast a config change reroutes:
 *
 *   const w = watchXdsClient('js', { target, bootstrap });
 *   await w.waitFor((e) => 'backend' in e && e.backend === 'v1');
 *   const t0 = Date.now(); await applyChange();
 *   const e = await w.waitFor((e) => e.t >= t0 && 'backend' in e && e.backend === 'v2');
 *   rerouteMs = e.t - t0; await w.stop();
 */
export interface XdsClientWatch extends EventEmitter<{ event: [WatchEvent]; exit: [number | null] }> {
  readonly events: readonly WatchEvent[];
  /** First event (seen or to come) matching `predicate`; rejects after timeoutMs or if the child exits. */
  waitFor(predicate: (event: WatchEvent) => boolean, timeoutMs?: number): Promise<WatchEvent>;
  /** Closes the runner's stdin (it stops after its current call), kills it if slow; returns all events. */
  stop(): Promise<WatchEvent[]>;
}

export function watchXdsClient(kind: XdsClientKind, options: XdsWatchOptions): XdsClientWatch {
  const maxDurationMs = options.maxDurationMs ?? 60_000;
  const child = spawnRunner(kind, options, [
    '--mode', 'watch', '--interval-ms', String(options.intervalMs ?? 20), '--duration-ms', String(maxDurationMs),
  ], 'pipe');
  const stderr = collect(child.stderr!);
  const events: WatchEvent[] = [];
  const emitter = new EventEmitter<{ event: [WatchEvent]; exit: [number | null] }>();
  let exitCode: number | null | undefined;

  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (!line.trim()) return;
    const event = JSON.parse(line) as WatchEvent;
    events.push(event);
    emitter.emit('event', event);
  });
  // Backstop: the runner stops itself at maxDurationMs; this covers a hung one.
  const exited = exitWithin(child, maxDurationMs + 15_000).then(
    (code) => code,
    () => null,
  );
  void exited.then((code) => {
    exitCode = code;
    emitter.emit('exit', code);
  });

  const waitFor = (predicate: (event: WatchEvent) => boolean, timeoutMs = 15_000): Promise<WatchEvent> => {
    const seen = events.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        emitter.off('event', onEvent);
        emitter.off('exit', onExit);
      };
      const onEvent = (event: WatchEvent): void => {
        if (predicate(event)) {
          cleanup();
          resolve(event);
        }
      };
      const fail = (why: string): void => {
        cleanup();
        const recent = events.slice(-5).map((e) => JSON.stringify(e)).join('\n');
        reject(new Error(`${kind} xDS watch: ${why}; last events:\n${recent}\n${stderr.tail()}`));
      };
      const onExit = (code: number | null): void => fail(`runner exited (${code}) before a match`);
      const timer = setTimeout(() => fail(`no matching event within ${timeoutMs} ms`), timeoutMs);
      if (exitCode !== undefined) return fail(`runner already exited (${exitCode})`);
      emitter.on('event', onEvent);
      emitter.on('exit', onExit);
    });
  };

  // Ending stdin of a child that already exited raises EPIPE; that is fine.
  child.stdin!.on('error', () => {});
  const stop = async (): Promise<WatchEvent[]> => {
    child.stdin!.end();
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
    return [...events];
  };

  return Object.assign(emitter, { events, waitFor, stop });
}

// --- child plumbing -----------------------------------------------------------

/** Children still running, killed if the test process exits without stopping them. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

function spawnRunner(
  kind: XdsClientKind,
  options: XdsClientOptions,
  modeArgs: string[],
  stdin: 'ignore' | 'pipe',
): ChildProcess {
  const args = [...modeArgs];
  if (options.direct) args.push('--direct', options.direct);
  else if (options.target) args.push('--target', options.target);
  else throw new Error('runXdsClient needs target or direct');
  if (options.deadlineMs !== undefined) args.push('--deadline-ms', String(options.deadlineMs));
  for (const [k, v] of Object.entries(options.metadata ?? {})) args.push('--metadata', `${k}=${v}`);

  // C-core logs every xDS connection attempt at INFO; errors are what a failing test needs.
  const env: NodeJS.ProcessEnv = { GRPC_VERBOSITY: 'ERROR', ...process.env, ...options.env };
  // GRPC_XDS_BOOTSTRAP (a file) wins over _CONFIG in both clients: never inherit one.
  delete env.GRPC_XDS_BOOTSTRAP;
  if (options.bootstrap) env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify(options.bootstrap);
  else if (options.target?.startsWith('xds:')) throw new Error(`${options.target} needs a bootstrap`);

  const runner = RUNNERS[kind]();
  const child = spawn(runner.command, [...runner.args, ...args], {
    cwd: repoRoot,
    env,
    stdio: [stdin, 'pipe', 'pipe'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Resolves with the exit code; on timeout kills the child and rejects. */
function exitWithin(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out after ${timeoutMs} ms (killed)`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    // 'close', not 'exit': stdout is fully read by then.
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** Buffers a stream; keeps at most the last 256 KiB so a chatty child can't grow memory. */
function collect(stream: NodeJS.ReadableStream): { text(): string; tail(): string } {
  const limit = 256 * 1024;
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    text += chunk;
    if (text.length > limit) text = text.slice(-limit);
  });
  return {
    text: () => text,
    tail: () => (text.trim() ? `stderr (tail):\n${text.trim().split('\n').slice(-20).join('\n')}` : '(no stderr)'),
  };
}
