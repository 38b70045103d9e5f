/**
 * `trellis certs`: what the running server has issued (serial, SPIFFE ID,
 * validity, issuing root), read from its admin API; never a key.
 * `trellis ca rotate [--finish] [--cert F --key F]`: root rotation on the
 * state dir. The running server sees the change and republishes: old and new
 * roots are trusted together, after a grace (the bundle's propagation)
 * workloads move to the new root, and `--finish` drops the old root only
 * once the server reports that no current certificate still chains to it.
 * The xDS port serves from the old root until then, so bootstraps must be
 * rewritten (they then trust both roots) before finishing.
 */
import path from 'node:path';
import { CertificateAuthority } from '../ca/authority.ts';
import { formatCertificateListing, type CertificateListing } from '../ca/inventory.ts';
import { errorMessage, OperatorError, UsageError } from '../errors.ts';
import { parseArgs } from './args.ts';

/** What the running server has issued; only it knows which certificates are current. */
async function fetchListing(adminAddress: string): Promise<CertificateListing> {
  try {
    const res = await fetch(`http://${adminAddress}/api/v1/certificates`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`admin API ${adminAddress}: HTTP ${res.status}`);
    return (await res.json()) as CertificateListing & { rotation?: unknown };
  } catch (e) {
    throw new OperatorError(`${errorMessage(e)} (is trellis serve running with --admin-address?)`);
  }
}

export async function certsCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: { 'admin-address': '127.0.0.1:19000' }, booleans: ['json'] });
  const listing = await fetchListing(args.values['admin-address']!);
  process.stdout.write(args.booleans.json ? `${JSON.stringify(listing, null, 2)}\n` : formatCertificateListing(listing));
  return 0;
}

export async function caCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'rotate') {
    process.stderr.write('usage: trellis ca rotate [--finish [--force]] [--cert F --key F] [--state-dir D] [--admin-address H:P] [--trust-domain TD]\n');
    return 2;
  }
  const args = parseArgs(rest, {
    values: { 'state-dir': '.trellis', 'admin-address': '127.0.0.1:19000', cert: undefined, key: undefined, 'trust-domain': 'trellis.local' },
    booleans: ['finish', 'force'],
  });
  const stateDir = path.resolve(args.values['state-dir']!);
  const ca = await CertificateAuthority.open({ trustDomain: args.values['trust-domain']!, stateDir });
  if (args.booleans.finish) {
    if (!args.booleans.force) {
      // Only the server knows which certificates are current.
      const listing = (await fetchListing(args.values['admin-address']!)) as CertificateListing & { rotation?: { complete: boolean; onRetiringRoots: number; total: number } };
      if (listing.rotation && !listing.rotation.complete) {
        process.stderr.write(`trellis ca rotate --finish: ${listing.rotation.onRetiringRoots} of ${listing.rotation.total} current certificates still chain to the retiring root; wait for renewal (trellis certs) or pass --force\n`);
        return 1;
      }
    }
    await ca.finishRootRotation({ force: true });
    process.stdout.write('root rotation finished: the old root is no longer trusted; the xDS port now serves a certificate from the new root (bootstraps written before the rotation can no longer connect)\n');
    return 0;
  }
  if ((args.values.cert === undefined) !== (args.values.key === undefined)) throw new UsageError('--cert and --key go together');
  const root = await ca.beginRootRotation(args.values.cert ? { certFile: args.values.cert, keyFile: args.values.key! } : undefined);
  process.stdout.write(`root rotation begun: new root ${root.fingerprint}; old and new roots are trusted together until \`trellis ca rotate --finish\`.\n`
    + 'Workloads move to the new root after the grace (trellis serve --rotation-grace, default 60 s). Before finishing, rewrite every bootstrap (trellis bootstrap): they then trust both roots, and the xDS port moves to the new root at --finish.\n');
  return 0;
}
