/**
 * `trellis ca`: the mesh CA on a state dir, one step per subcommand.
 *   import  the first CA of a state dir: an operator's root, or an
 *           intermediate with its chain up to the operator's root (the
 *           root's key is never needed);
 *   rotate  a new CA while serving: a generated root, an operator's root,
 *           an intermediate of the same root, or (with --root) a new root and
 *           its intermediate. Old and new are trusted together, after a grace
 *           (the bundle's propagation) workloads move to the new CA, and
 *           `--finish` drops the old one once the running server reports that
 *           no current certificate still chains to it. The xDS port serves
 *           from the old CA until then, so bootstraps must be rewritten (they
 *           then trust both roots) before finishing a root rotation;
 *   show    the chain of each CA (state dir, or files before importing them)
 *           with subjects, expiry and pathLen;
 *   issue-tls  a server certificate from the CA as a kubernetes.io/tls Secret
 *           (a Gateway's HTTPS certificate; ca-issue-tls.ts).
 * Every check runs before anything is written: a refused CA leaves the state
 * dir, and the running server's trust, as they were.
 */
import path from 'node:path';
import { CertificateAuthority, type RootFiles } from '../ca/authority.ts';
import type { CertificateListing } from '../ca/inventory.ts';
import { UsageError } from '../errors.ts';
import { parseArgs, type ParsedArgs } from './args.ts';
import { fetchListing } from './certs.ts';
import { showCa } from './ca-show.ts';
import { issueTlsCommand } from './ca-issue-tls.ts';

const FILES = '--cert F --key F [--chain F] [--root F]';
export const CA_USAGE = `usage: trellis ca <import|rotate|show|issue-tls> [options]
  trellis ca import ${FILES} [--state-dir D]
      store an operator's CA as the state dir's first CA (before \`trellis serve\`):
      --cert   the CA certificate Trellis signs with (a root, or an intermediate)
      --key    its private key (unencrypted PEM)
      --chain  the certificates above an intermediate, up to the root (the root may be left out if --root is given)
      --root   the operator's root: the chain must end there; only it goes in the trust bundle
  trellis ca rotate [${FILES}] [--state-dir D]
      begin a rotation on the running server's state dir: with no files, a new generated root;
      an intermediate without --root must chain to the root in use (an intermediate rotation);
      with --root, the root changes too (both roots are trusted until --finish)
  trellis ca rotate --finish [--force] [--state-dir D] [--admin-address H:P]
      end it once no current certificate chains to the old CA (asks the running server)
  trellis ca show [--state-dir D] [--json]
  trellis ca show --cert F [--key F] [--chain F] [--root F] [--json]
      each CA's chain (subject, validity, pathLen, fingerprint), checked; files are checked before import
  trellis ca issue-tls --secret NS/NAME [--dns N,...] [--ip A,...] [--out F] [--ca-out F] [--state-dir D]
      a server certificate from the CA (localhost and 127.0.0.1 always in) as the kubernetes.io/tls Secret
      a Gateway's HTTPS listener names; --ca-out: the trust bundle that verifies it
options: --state-dir D (default .trellis), --trust-domain TD (default trellis.local), --help
`;

const VALUES = {
  'state-dir': '.trellis',
  'admin-address': '127.0.0.1:19000',
  'trust-domain': 'trellis.local',
  cert: undefined,
  key: undefined,
  chain: undefined,
  root: undefined,
  secret: undefined,
  dns: undefined,
  ip: undefined,
  out: undefined,
  'ca-out': undefined,
};

/** Flags of `ca issue-tls` alone. */
const ISSUE_TLS_ONLY = ['secret', 'dns', 'ip', 'out', 'ca-out'] as const;

/** The operator's files, or undefined if none were given. */
function caFiles(args: ParsedArgs, keyRequired = true): RootFiles | undefined {
  const { cert, key, chain, root } = args.values;
  if (cert === undefined) {
    if (key !== undefined || chain !== undefined || root !== undefined) throw new UsageError('--key, --chain and --root go with --cert', CA_USAGE);
    return undefined;
  }
  if (key === undefined && keyRequired) throw new UsageError('--cert and --key go together', CA_USAGE);
  return { certFile: cert, keyFile: key ?? '', ...(chain !== undefined ? { chainFile: chain } : {}), ...(root !== undefined ? { rootFile: root } : {}) };
}

export async function caCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    process[sub === undefined ? 'stderr' : 'stdout'].write(CA_USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'import' && sub !== 'rotate' && sub !== 'show' && sub !== 'issue-tls') throw new UsageError(`unknown subcommand "${sub}"`, CA_USAGE);
  const args = parseArgs(rest, { values: VALUES, booleans: ['finish', 'force', 'json', 'help'], usage: CA_USAGE });
  if (args.booleans.help) {
    process.stdout.write(CA_USAGE);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${args.positionals[0]}`, CA_USAGE);
  if (sub === 'issue-tls') return issueTlsCommand(args, CA_USAGE);
  const misplaced = ISSUE_TLS_ONLY.find((k) => args.values[k] !== undefined);
  if (misplaced) throw new UsageError(`--${misplaced} goes with \`trellis ca issue-tls\``, CA_USAGE);
  const stateDir = path.resolve(args.values['state-dir']!);
  if (sub === 'show') return showCa({ stateDir, files: caFiles(args, false), json: args.booleans.json === true });
  const files = caFiles(args);
  if (sub === 'import') {
    if (!files) throw new UsageError('ca import needs --cert and --key (and --chain / --root for an intermediate)', CA_USAGE);
    return importCa(stateDir, args.values['trust-domain']!, files);
  }
  return rotate(stateDir, args, files);
}

async function importCa(stateDir: string, trustDomain: string, files: RootFiles): Promise<number> {
  // open() stores the files on a state dir without a CA, accepts the same CA
  // again, and refuses another one (root-conflict, naming `ca rotate`).
  const ca = await CertificateAuthority.open({ trustDomain, stateDir, operatorRoot: files });
  const active = ca.activeRoot;
  const what = active.fingerprint === active.anchor.fingerprint ? 'root' : 'intermediate';
  process.stdout.write(`imported the ${what} ${active.subject} (${active.fingerprint}) under root ${active.anchor.subject}: start \`trellis serve --state-dir ${stateDir}\`\n`);
  return 0;
}

async function rotate(stateDir: string, args: ParsedArgs, files: RootFiles | undefined): Promise<number> {
  const ca = await CertificateAuthority.open({ trustDomain: args.values['trust-domain']!, stateDir });
  if (args.booleans.finish) {
    if (files) throw new UsageError('--finish takes no certificate files', CA_USAGE);
    if (!args.booleans.force) {
      // Only the server knows which certificates are current.
      const listing = (await fetchListing(args.values['admin-address']!)) as CertificateListing & { rotation?: { complete: boolean; onRetiringRoots: number; total: number } };
      if (listing.rotation && !listing.rotation.complete) {
        process.stderr.write(`trellis ca rotate --finish: ${listing.rotation.onRetiringRoots} of ${listing.rotation.total} current certificates still chain to the retiring CA; wait for renewal (trellis certs) or pass --force\n`);
        return 1;
      }
    }
    await ca.finishRootRotation({ force: true });
    process.stdout.write('root rotation finished: the old CA is no longer trusted; the xDS port now serves a certificate from the new one (after a root rotation, bootstraps written before it can no longer connect)\n');
    return 0;
  }
  const before = ca.activeRoot.anchor.fingerprint;
  const next = await ca.beginRootRotation(files);
  if (next.anchor.fingerprint === before) {
    process.stdout.write(`intermediate rotation begun: new signing CA ${next.subject} (${next.fingerprint}) under the same root; the trust bundle is unchanged.\n`
      + 'Workloads move to it after the grace (trellis serve --rotation-grace, default 60 s); then `trellis ca rotate --finish`.\n');
    return 0;
  }
  process.stdout.write(`root rotation begun: new root ${next.anchor.fingerprint}; old and new roots are trusted together until \`trellis ca rotate --finish\`.\n`
    + 'Workloads move to the new root after the grace (trellis serve --rotation-grace, default 60 s). Before finishing, rewrite every bootstrap (trellis bootstrap): they then trust both roots, and the xDS port moves to the new root at --finish.\n');
  return 0;
}

