/**
 * The demo's rate limit service (issue 15): when the demo mesh's MeshConfig
 * names a rate limit service and some TrafficPolicy has a global limit,
 * `trellis demo` starts Redis and github.com/envoyproxy/ratelimit on the
 * address the MeshConfig gives (its gRPC port; Redis on 6379 of the same
 * host), reading the config Trellis keeps (runtime/ratelimit-config.ts).
 * Otherwise nothing is started. The binary is the one
 * scripts/setup-ratelimit.sh builds; without it the demo says so.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import path from 'node:path';
import { OperatorError } from '../errors.ts';
import { tcpOpen } from './child-processes.ts';
import type { MeshModel, RateLimitService } from '../model/types.ts';
import { rateLimitServiceConfig } from '../translate/ratelimit-service.ts';

export class RateLimitServiceMissing extends OperatorError {}

async function until(what: string, cond: () => Promise<boolean>, p: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await cond())) {
    if (p.exitCode !== null) throw new RateLimitServiceMissing(`${what} exited with code ${p.exitCode}; see ${log}`);
    if (Date.now() > deadline) throw new RateLimitServiceMissing(`${what} did not start listening within 20 s; see ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The processes started (Redis, ratelimit), or none when no global limit needs them. */
export async function startDemoRateLimit(o: { model: MeshModel; configDir: string; logDir: string; repoRoot: string }): Promise<ChildProcess[]> {
  const rls = o.model.mesh.rateLimitService;
  const config = rateLimitServiceConfig(o.model);
  if (!rls || !config || config.descriptors.length === 0) return [];
  return startRateLimitService({ ...o, rls });
}

/** Redis and the rate limit service on `rls`'s host, reading `configDir`; resolves once both listen. */
export async function startRateLimitService(o: { rls: RateLimitService; configDir: string; logDir: string; repoRoot: string }): Promise<ChildProcess[]> {
  const rls = o.rls;
  const setup = path.join(o.repoRoot, 'scripts/setup-ratelimit.sh');
  const bin = execFileSync('bash', [setup, '--path'], { encoding: 'utf8' }).trim();
  const redis = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p));
  if (!existsSync(bin) || !redis) throw new RateLimitServiceMissing(`a TrafficPolicy has a global rate limit, and the demo runs the rate limit service for it: run \`bash scripts/setup-ratelimit.sh\` once (it builds ${bin} and installs redis-server)`);
  for (const port of [6379, rls.port]) {
    if (await tcpOpen(rls.host, port)) throw new RateLimitServiceMissing(`${rls.host}:${port} is in use: the demo's rate limit service (MeshConfig spec.rateLimitService) needs it and Redis needs ${rls.host}:6379`);
  }
  const started: ChildProcess[] = [];
  try {
    const redisLog = path.join(o.logDir, 'redis.log');
    const r = spawn(redis, ['--bind', rls.host, '--port', '6379', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', openSync(redisLog, 'a'), openSync(redisLog, 'a')] });
    started.push(r);
    await until('redis-server', () => tcpOpen(rls.host, 6379), r, redisLog);
    const rlLog = path.join(o.logDir, 'ratelimit.log');
    const env = {
      PATH: process.env.PATH ?? '',
      RUNTIME_ROOT: o.configDir,
      RUNTIME_SUBDIRECTORY: '',
      RUNTIME_APPDIRECTORY: 'config',
      RUNTIME_WATCH_ROOT: 'false',
      RUNTIME_IGNOREDOTFILES: 'true',
      USE_STATSD: 'false',
      REDIS_SOCKET_TYPE: 'tcp',
      REDIS_URL: `${rls.host}:6379`,
      HOST: rls.host,
      PORT: '8080',
      GRPC_HOST: rls.host,
      GRPC_PORT: String(rls.port),
      DEBUG_HOST: rls.host,
      DEBUG_PORT: '6070',
      LOG_LEVEL: 'warn',
    };
    const rl = spawn(bin, [], { env, stdio: ['ignore', openSync(rlLog, 'a'), openSync(rlLog, 'a')] });
    started.push(rl);
    await until('the rate limit service', () => tcpOpen(rls.host, rls.port), rl, rlLog);
    return started;
  } catch (e) {
    for (const p of started) p.kill('SIGKILL');
    throw e;
  }
}
