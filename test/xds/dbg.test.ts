import { it } from 'vitest';
import { node } from '../support/ads-client.ts';
import { apiListener, cluster, endpoints, routeConfig, type MeshSpec } from '../support/fixtures.ts';
import { CDS, EDS, LDS, RDS, drain, startHarness } from '../support/conformance.ts';
const config = (present: string[], target: string): MeshSpec => ({
    clusters: present.map((c) => cluster(c)),
    endpoints: present.map((c, i) => endpoints(c, [9100 + i])),
    listeners: [apiListener('svc:80', 'r1')],
    routes: [routeConfig('r1', [{ cluster: target }])],
  });
it('dbg', async () => {
  const h = await startHarness();
  h.set(config(['a'], 'a'));
  const s = h.client.sotw();
  s.send({ node: node('x'), type_url: CDS });
  s.send({ type_url: LDS });
  s.send({ type_url: RDS, resource_names: ['r1'] });
  const pump = async () => { for (const r of await drain(s, 200)) { console.log(r.type_url.split('.').at(-1), r.names, r.nonce, JSON.stringify(r.resources.map(x=>x.value.virtual_hosts ? JSON.stringify(x.value).match(/"cluster":"\w+"/g) : ''))); s.ack(r, r.type_url === RDS ? ['r1'] : []); } };
  await pump();
  for (const st of [[['b'], 'b'], [['a', 'c'], 'c']] as const) { console.log('--', st); h.set(config([...st[0]], st[1])); await pump(); }
  await h.close();
});
