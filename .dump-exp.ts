import { MeshHarness, sidecarNode, grpcNode, writeYaml } from './test/support/mesh-harness.ts';
import { shopFiles } from './test/pipeline/shop.ts';
import { execFileSync } from 'node:child_process';
const mode = (process.argv[2] ?? 'Permissive') as any;
const h = await MeshHarness.start(shopFiles(mode));
try { console.log(execFileSync(process.execPath, ['bin/trellis.js', 'validate', h.dir], { encoding: 'utf8' })); } catch (e: any) { console.log('VALIDATE', e.stdout, e.stderr); }
const which = process.argv[3] ?? 'frontend';
const p = which === 'grpc' ? await h.proxyless(grpcNode('g1', 'shop/frontend'), ['reviews.shop.svc.cluster.local:9090', 'reviews:9090', 'ratings.shop:8080']) : await h.sidecar(sidecarNode('sc-' + which, which.includes('/') ? which : 'shop/' + which));
console.log(JSON.stringify({ log: p.log, cds: Object.fromEntries(p.held.cds), eds: Object.fromEntries(p.held.eds), lds: Object.fromEntries(p.held.lds), rds: Object.fromEntries(p.held.rds) }, null, 1));
await h.close();
