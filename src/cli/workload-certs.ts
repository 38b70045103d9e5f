/**
 * `trellis workload-certs --workload ns/name --dir D [--watch]`: writes the
 * certificate, key and trust bundle of a proxyless gRPC workload where its
 * bootstrap's file_watcher certificate provider reads them (gRFC A29), and
 * with --watch keeps renewing them halfway through their validity until
 * stopped. `trellis bootstrap --proxyless --cert-dir D` writes them once and
 * prints the gRPC bootstrap naming them. See docs/proxyless.md.
 */
import path from 'node:path';
import { buildMesh, formatSourceError } from '../model/index.ts';
import type { MeshModel } from '../model/types.ts';
import { loadPaths } from '../sources/file/load.ts';
import { keepWorkloadCertificates, writeWorkloadCertificates } from '../runtime/workload-certs.ts';
import { OperatorError, UsageError } from '../errors.ts';
import { parseArgs } from './args.ts';

/** The mesh folder's model, for a workload's identity. */
export async function meshOf(source: string, workloadKey: string | undefined): Promise<{ model: MeshModel; workloadKey: string }> {
  if (!workloadKey || !workloadKey.includes('/')) throw new UsageError('--workload ns/name is required (a Pod in the mesh folder)');
  if (!source.startsWith('file:')) throw new UsageError(`--source ${source}: expected file:<dir>`);
  const loaded = await loadPaths([source.slice(5)]);
  for (const e of loaded.errors) process.stderr.write(`${formatSourceError(e)}\n`);
  const { model } = buildMesh(loaded.objects);
  if (!model.workloads.has(workloadKey)) throw new OperatorError(`no Pod ${workloadKey} in ${source.slice(5)}; known: ${[...model.workloads.keys()].join(', ') || 'none'}`);
  return { model, workloadKey };
}

export async function workloadCertsCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: { workload: undefined, dir: undefined, source: 'file:.', 'state-dir': '.trellis' }, booleans: ['watch'] });
  if (!args.values.dir) throw new UsageError('--dir D is required: where the certificate provider of the bootstrap reads cert.pem, key.pem and ca.pem');
  const { model, workloadKey } = await meshOf(args.values.source!, args.values.workload);
  const o = { stateDir: path.resolve(args.values['state-dir']!), trustDomain: model.mesh.trustDomain, spiffeId: model.workloads.get(workloadKey)!.identity, dir: path.resolve(args.values.dir) };
  const say = (w: { spiffeId: string; notAfter: number; renewAt: number }) =>
    process.stdout.write(`wrote ${o.dir}/{cert,key,ca}.pem for ${w.spiffeId}: valid until ${new Date(w.notAfter).toISOString()}${args.booleans.watch ? `, renewing at ${new Date(w.renewAt).toISOString()}` : ''}\n`);
  if (!args.booleans.watch) {
    say(await writeWorkloadCertificates(o));
    return 0;
  }
  const stop = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => stop.abort());
  await keepWorkloadCertificates({ ...o, signal: stop.signal, onWrite: say });
  return 0;
}
