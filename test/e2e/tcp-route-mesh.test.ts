/**
 * issues 10/11 end to end: a Gateway API TCPRoute on a mesh Service, real
 * Envoys (explicit mode, strict mesh), loopback 127.0.120.x. One Trellis,
 * two sidecars: client-1 (service account client) and db-1 (db), whose
 * application answers on three TCP services — echo (the route's parent),
 * echo-v1 and echo-v2 — each reply saying which one took the connection.
 *   - The route sends echo's connections 100/0 to echo-v1; the file is
 *     edited to 0/100 and new connections move to echo-v2 (through both
 *     sidecars, over mTLS).
 *   - A backend that does not exist takes its share: those connections are
 *     refused, and the route's status says BackendNotFound.
 * Bounded: a few dozen connections; every process is stopped in afterAll.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectStatus } from '../../src/model/problem.ts';
import { connect, EdgeMesh, until } from '../support/edge-e2e.ts';
import { meshConfig, NAMESPACE, pod, serviceAccounts, trafficTarget, tcpService } from '../support/mesh-yaml.ts';

const NET = '127.0.120';
const SERVER = `${NET}.3`;
const CLIENT = `${NET}.2`;
/** Service ports (what the client dials on its sidecar) and the application's own ports behind them. */
const PORTS = { echo: 26001, 'echo-v1': 26002, 'echo-v2': 26003 } as const;
const APP = { echo: 36001, 'echo-v1': 36002, 'echo-v2': 36003 } as const;
const ROUNDS = 12;

/** A TCP service of db-1: its sidecar listens on the service port, the application behind it on APP[name] (appPorts). */
const service = (name: keyof typeof PORTS) => tcpService(name, PORTS[name], [['db-1', SERVER]], 'db');
const MESH = [
  NAMESPACE,
  meshConfig('Strict'),
  serviceAccounts('db', 'client'),
  pod('db-1', 'db', SERVER, 'db'),
  pod('client-1', 'client', CLIENT, 'client'),
  // No rules: every connection to db's identity is allowed.
  trafficTarget('client', 'db'),
  service('echo'),
  service('echo-v1'),
  service('echo-v2'),
].join('');

const route = (backends: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: echo, namespace: demo}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, port: ${PORTS.echo}}]
  rules: [{backendRefs: [${backends}]}]
`;
const weights = (v1: number, v2: number, v2Name = 'echo-v2') => route(`{name: echo-v1, port: ${PORTS['echo-v1']}, weight: ${v1}}, {name: ${v2Name}, port: ${PORTS['echo-v2']}, weight: ${v2}}`);

let mesh: EdgeMesh;

/** Which service answered one connection to echo through the client's sidecar; `refused`: closed without an answer. */
async function answeredBy(): Promise<string> {
  const got = await connect(CLIENT, PORTS.echo, 'ping\n');
  if (got === 'empty' || got === 'ECONNRESET') return 'refused';
  return got.endsWith(':ping\n') ? got.slice(0, -':ping\n'.length) : got;
}

async function answers(n: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const who = await answeredBy();
    out[who] = (out[who] ?? 0) + 1;
  }
  return out;
}

beforeAll(async () => {
  mesh = await EdgeMesh.start({ 'mesh.yaml': MESH, 'route.yaml': weights(100, 0) }, `${NET}.1`);
  // The application on db-1: each port answers `<service>:` and the line it got.
  for (const [name, port] of Object.entries(APP)) {
    const s = mesh.keep(net.createServer((c) => c.once('data', (d: Buffer) => c.end(`${name}:${d.toString()}`))));
    await new Promise<void>((r) => s.listen(port, SERVER, r));
  }
  const appPorts = new Map<number, number>(Object.keys(PORTS).map((k) => [PORTS[k as keyof typeof PORTS], APP[k as keyof typeof APP]]));
  await mesh.envoy('demo/db-1', `${SERVER}:15000`, { appPorts, appAddress: SERVER });
  await mesh.envoy('demo/client-1', `${CLIENT}:15000`);
  await until('the first connection through the route', async (last) => ((last.seen = await answeredBy()) === 'echo-v1' ? true : undefined));
}, 90_000);

afterAll(async () => {
  await mesh?.stop();
});

describe('issues 10/11: a Gateway API TCPRoute on a mesh Service, through two sidecars', () => {
  it('weights 100/0: every connection to echo is answered by echo-v1, none by echo itself', async () => {
    expect(await answers(ROUNDS)).toEqual({ 'echo-v1': ROUNDS });
  });

  it('the route edited to 0/100: new connections move to echo-v2', async () => {
    await mesh.write('route.yaml', weights(0, 100));
    await until('a connection answered by echo-v2', async (last) => ((last.seen = await answeredBy()) === 'echo-v2' ? true : undefined));
    expect(await answers(ROUNDS)).toEqual({ 'echo-v2': ROUNDS });
  });

  it('a backend that does not exist: its share of connections is refused, the route says BackendNotFound', async () => {
    await mesh.write('route.yaml', weights(0, 100, 'echo-v9'));
    await until('a refused connection', async (last) => ((last.seen = await answeredBy()) === 'refused' ? true : undefined));
    expect(await answers(ROUNDS)).toEqual({ refused: ROUNDS });
    const { intents } = await (await fetch(`http://127.0.0.1:${mesh.plane.adminPort}/api/v1/intents`)).json() as { intents: ObjectStatus[] };
    const status = intents.find((i) => i.apiVersion.startsWith('gateway.networking.k8s.io/') && i.kind === 'TCPRoute' && i.name === 'echo')!;
    expect(status.parents![0]!.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([['Accepted', 'True', 'Accepted'], ['ResolvedRefs', 'False', 'BackendNotFound']]);
    expect(status.problems.map((p) => [p.reason, p.field])).toEqual([['BackendNotFound', 'spec.rules[0].backendRefs[1].name']]);
  });
});
