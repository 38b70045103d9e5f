/**
 * `trellis certs`: what the running server has issued (serial, SPIFFE ID,
 * validity, issuing CA), read from its admin API; never a key.
 * (`trellis ca` is in ca.ts.)
 */
import { formatCertificateListing, type CertificateListing } from '../ca/inventory.ts';
import { errorMessage, OperatorError } from '../errors.ts';
import { parseArgs } from './args.ts';

/** What the running server has issued; only it knows which certificates are current. */
export async function fetchListing(adminAddress: string): Promise<CertificateListing> {
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
