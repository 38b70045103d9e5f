/**
 * `trellis ca show`: each CA of a state dir (the active one, and the retiring
 * one during a rotation), or of files before `ca import` / `ca rotate`, as
 * its chain from the signing certificate up to the root: subject, issuer,
 * validity, pathLen, fingerprint. Reading only: the state dir is not
 * recovered or created (the running server may be writing it). The chain is
 * checked as the CA checks it, so a bad file is refused here with the same
 * message it would get at import.
 */
import { FileCaStore } from '../ca/store.ts';
import { loadCaChain, loadSigningCa, oneLine, type CaChain, type PathCertificate } from '../ca/chain.ts';
import { originOf, readCaFiles, type RootFiles } from '../ca/operator-files.ts';
import { OperatorError } from '../errors.ts';

interface ShownCertificate {
  role: 'signing CA' | 'intermediate' | 'root';
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  daysLeft: number;
  /** null: no pathLenConstraint (any depth below it). */
  pathLen: number | null;
  fingerprint: string;
}

interface ShownCa {
  state: 'active' | 'retiring' | 'file';
  chain: ShownCertificate[];
}

function shown(c: PathCertificate, role: ShownCertificate['role'], now: number): ShownCertificate {
  return {
    role,
    subject: c.subject,
    issuer: oneLine(c.x509.issuer),
    notBefore: new Date(c.notBefore).toISOString(),
    notAfter: new Date(c.notAfter).toISOString(),
    daysLeft: Math.floor((c.notAfter - now) / 86_400_000),
    pathLen: c.pathLen ?? null,
    fingerprint: c.fingerprint,
  };
}

export function describeChain(ca: CaChain, state: ShownCa['state'], now: number): ShownCa {
  const chain = [shown(ca, ca.fingerprint === ca.anchor.fingerprint ? 'root' : 'signing CA', now), ...ca.intermediates.map((c) => shown(c, 'intermediate', now))];
  if (ca.fingerprint !== ca.anchor.fingerprint) chain.push(shown(ca.anchor, 'root', now));
  return { state, chain };
}

export function formatCas(cas: readonly ShownCa[], trustBundle: readonly string[]): string {
  const lines: string[] = [];
  for (const ca of cas) {
    const top = ca.chain[0]!;
    const kind = top.role === 'root' ? 'a root, signing leaves itself' : `an intermediate, ${ca.chain.length - 1} certificate(s) up to its root`;
    lines.push(`${ca.state === 'file' ? 'CA in the files' : `${ca.state} CA`}: ${kind}`);
    for (const c of ca.chain) {
      lines.push(`  ${c.role.padEnd(13)} ${c.subject}`);
      if (c.role !== 'root') lines.push(`  ${''.padEnd(13)} issued by ${c.issuer}`);
      const left = c.daysLeft < 0 ? 'EXPIRED' : `${c.daysLeft} days left`;
      lines.push(`  ${''.padEnd(13)} valid ${c.notBefore} .. ${c.notAfter} (${left}), pathLen ${c.pathLen ?? 'none'}`);
      lines.push(`  ${''.padEnd(13)} sha256 ${c.fingerprint}`);
    }
  }
  lines.push(`trust bundle: ${trustBundle.join('; ')}`);
  return `${lines.join('\n')}\n`;
}

export async function showCa(opts: { stateDir: string; files?: RootFiles; json: boolean; now?: number }): Promise<number> {
  const now = opts.now ?? Date.now();
  const cas: CaChain[] = [];
  const states: ShownCa['state'][] = [];
  if (opts.files) {
    const pem = await readCaFiles(opts.files);
    const origin = originOf(opts.files);
    cas.push(opts.files.keyFile === '' ? loadCaChain(pem, now, origin) : loadSigningCa(pem, now, origin));
    states.push('file');
  } else {
    const store = new FileCaStore(opts.stateDir);
    const stored = await store.read();
    if (!stored) throw new OperatorError(`${store.dir} holds no CA: \`trellis serve --state-dir ${opts.stateDir}\` creates one, or \`trellis ca import\` stores yours`);
    cas.push(loadCaChain({ certificatePem: stored.active.certificatePem }, now, { certPath: stored.paths.cert, keyPath: stored.paths.key, state: true }));
    states.push('active');
    if (stored.retiringPem !== undefined) {
      cas.push(loadCaChain({ certificatePem: stored.retiringPem }, now, { certPath: stored.paths.retiring, keyPath: stored.paths.retiringKey, state: true }));
      states.push('retiring');
    }
  }
  const shownCas = cas.map((c, i) => describeChain(c, states[i]!, now));
  const bundle = [...new Map(cas.map((c) => [c.anchor.fingerprint, `${c.anchor.subject} (${c.anchor.fingerprint.slice(0, 23)}…)`])).values()];
  process.stdout.write(opts.json ? `${JSON.stringify({ cas: shownCas, trustBundle: bundle }, null, 2)}\n` : formatCas(shownCas, bundle));
  return 0;
}
