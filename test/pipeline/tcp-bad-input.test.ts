/**
 * Issue 11, bad input on a running control plane: a TCP port claimed by two
 * services, a port whose protocol is declared wrongly, a TrafficTarget naming
 * a TCPRoute that does not exist. Each is reported in /api/v1/intents with
 * file, line, object and field; the last good config stays served (the
 * connected sidecar keeps its TCP listener and cluster); nothing crashes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MeshHarness, sidecarNode, type ProxyView } from '../support/mesh-harness.ts';
import { baseFiles, dbYaml } from './differential-mesh.ts';

const lineOf = (text: string, needle: string) => text.slice(0, text.indexOf(needle)).split('\n').length;
const DB_LISTENER = 'outbound-tcp:db.shop:5432';

let h: MeshHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const CASES = [
  {
    name: 'an unknown appProtocol (a typo): the Service is rejected, its last good version served',
    file: 'db.yaml',
    text: dbYaml.replace('appProtocol: tcp', 'appProtocol: tcpp'),
    want: { kind: 'Service', name: 'db', reason: 'InvalidValue', field: 'spec.ports[0].appProtocol', needle: 'appProtocol: tcpp' },
  },
  {
    name: 'a TCP port claimed by two services (one ClusterIP and port): the newcomer is rejected',
    file: 'db2.yaml',
    text: 'apiVersion: v1\nkind: Service\nmetadata: {name: db2, namespace: shop}\nspec:\n  clusterIP: 10.96.0.50\n  selector: {app: ratings}\n  ports: [{name: db, port: 5432, appProtocol: tcp}]\n',
    want: { kind: 'Service', name: 'db2', reason: 'Conflict', field: 'spec.ports[0].port', needle: 'ports: [' },
  },
  {
    name: 'a TrafficTarget naming a TCPRoute that does not exist',
    file: 'db.yaml',
    text: dbYaml.replace('rules: [{kind: TCPRoute, name: db}]', 'rules: [{kind: TCPRoute, name: dbb}]'),
    want: { kind: 'TrafficTarget', name: 'tcp-to-db', reason: 'RefNotFound', field: 'spec.rules[0].name', needle: 'rules: [' },
  },
];

describe('issue 11: bad TCP input keeps the last good config', () => {
  it.each(CASES)('$name', async (c) => {
    h = await MeshHarness.start(baseFiles('Strict'));
    // client may reach db by its TCPRoute rule (strict): it holds the local listener and the mTLS cluster.
    const p: ProxyView = await h.sidecar(sidecarNode('client-1', 'shop/client', { 'trellis.mode': 'explicit' }));
    const before = { listener: p.listener(DB_LISTENER), cluster: p.cluster('db.shop:5432') };

    await h.write({ [c.file]: c.text });
    await p.settle(300);
    expect(p.listener(DB_LISTENER)).toEqual(before.listener);
    expect(p.cluster('db.shop:5432')).toEqual(before.cluster);
    expect(p.names('lds').filter((n) => n.startsWith('outbound-tcp:'))).toEqual([DB_LISTENER]);

    const view = await h.intents(true); // all=true: Services too, not only intents
    const s = view.intents.find((x) => x.kind === c.want.kind && x.name === c.want.name && x.namespace === 'shop');
    expect(s, `${c.want.kind} shop/${c.want.name}`).toBeDefined();
    expect(s!.conditions.find((x) => x.type === 'Accepted')).toMatchObject({ status: 'False' });
    expect(s!.problems.map((x) => ({ severity: x.severity, reason: x.reason, field: x.field, file: x.file, line: x.line }))).toEqual([
      { severity: 'error', reason: c.want.reason, field: c.want.field, file: h.pathOf(c.file), line: lineOf(c.text, c.want.needle) },
    ]);
    expect(h.server.mesh!.generation).toBeGreaterThan(1);
  });
});
