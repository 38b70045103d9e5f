/**
 * A real tracing collector for one machine (the demo, the telemetry tests):
 * Jaeger v2 (the OpenTelemetry Collector distribution with an OTLP receiver,
 * in-memory storage and the query API), built from the Go module proxy by
 * scripts/setup-jaeger.sh and cached under ~/.cache/trellis. Tests fail with
 * a message naming the script when it is missing (they never skip); the demo
 * goes without.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OperatorError } from '../errors.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export class JaegerMissingError extends OperatorError {}

/** The built binary, or an error naming the script that builds it. */
export function jaegerBin(): string {
  const bin = execFileSync('bash', [path.join(repoRoot, 'scripts/setup-jaeger.sh'), '--path'], { encoding: 'utf8' }).trim();
  if (!existsSync(bin)) throw new JaegerMissingError(`Jaeger is not built (${bin} is missing): run \`bash scripts/setup-jaeger.sh\` (a Go build from the module proxy, 10-30 minutes once)`);
  return bin;
}

export interface RunningJaeger {
  /** host:port of the OTLP/gRPC receiver */
  otlp: string;
  /** http://host:port of the query API (/api/traces/{id}) */
  query: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Jaeger v2's config: OTLP in, memory storage, query API; every port on `host`; no internal metrics port. */
function config(host: string, ports: { otlp: number; otlpHttp: number; query: number; queryGrpc: number; health: number }): string {
  return `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: ${host}:${ports.health}
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: ${host}:${ports.query}
    grpc:
      endpoint: ${host}:${ports.queryGrpc}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: ${host}:${ports.otlp}
      http:
        endpoint: ${host}:${ports.otlpHttp}
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

/** Jaeger's usual ports, on the host it is given. */
export const JAEGER_PORTS = { 4317: 'OTLP/gRPC', 4318: 'OTLP/HTTP', 16686: 'UI', 16685: 'query gRPC', 13133: 'health' } as const;

export async function startJaeger(o: { host: string; dir: string; logFile: string }): Promise<RunningJaeger> {
  const bin = jaegerBin();
  const ports = { otlp: 4317, otlpHttp: 4318, query: 16686, queryGrpc: 16685, health: 13133 };
  const file = path.join(o.dir, 'jaeger.yaml');
  writeFileSync(file, config(o.host, ports));
  const log = openSync(o.logFile, 'a');
  const proc = spawn(bin, ['--config', file], { stdio: ['ignore', log, log] });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      proc.once('exit', () => (clearTimeout(t), resolve()));
      proc.kill('SIGTERM');
    });
  const query = `http://${o.host}:${ports.query}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new OperatorError(`Jaeger exited with code ${proc.exitCode}; see ${o.logFile}`);
    try {
      if ((await fetch(`${query}/api/services`, { signal: AbortSignal.timeout(1000) })).ok) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new OperatorError(`Jaeger's query API at ${query} was not up within 30 s; see ${o.logFile}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { otlp: `${o.host}:${ports.otlp}`, query, process: proc, stop };
}

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: Array<{ refType: string; traceID: string; spanID: string }>;
  processID: string;
  tags: Array<{ key: string; value: unknown }>;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

/** The trace as Jaeger's query API has it now, or undefined. */
export async function jaegerTrace(query: string, traceId: string): Promise<JaegerTrace | undefined> {
  const res = await fetch(`${query}/api/traces/${traceId}`, { signal: AbortSignal.timeout(3000) });
  if (!res.ok) return undefined;
  const body = (await res.json()) as { data?: JaegerTrace[] };
  return body.data?.[0];
}
