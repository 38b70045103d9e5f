/**
 * `trellis ca issue-tls --secret ns/name`: a server certificate from the mesh
 * CA of a state dir, written as the `kubernetes.io/tls` Secret a Gateway's
 * HTTPS listener names (certificateRefs), for a mesh folder Trellis watches:
 * docker-compose's one-shot `ingress-tls` does this, as `trellis demo` does
 * in-process. `--ca-out` writes the trust bundle that verifies it (for
 * `curl --cacert`). The CA must exist already (`trellis serve` made it):
 * this never creates one.
 */
import { isIP } from 'node:net';
import path from 'node:path';
import { CertificateAuthority } from '../ca/authority.ts';
import { FileCaStore } from '../ca/store.ts';
import { OperatorError, UsageError } from '../errors.ts';
import { issueTlsSecret } from '../runtime/tls-secret.ts';
import type { ParsedArgs } from './args.ts';
import { writeOutput } from './output.ts';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const list = (v: string | undefined) => (v ?? '').split(',').map((x) => x.trim()).filter(Boolean);

export async function issueTlsCommand(args: ParsedArgs, usage: string): Promise<number> {
  const ref = args.values.secret;
  const [namespace, name, ...rest] = (ref ?? '').split('/');
  if (ref === undefined) throw new UsageError('ca issue-tls needs --secret NAMESPACE/NAME (the Secret a listener\'s certificateRefs name)', usage);
  if (rest.length > 0 || !namespace || !name || !DNS_SUBDOMAIN.test(namespace) || !DNS_SUBDOMAIN.test(name)) throw new UsageError(`--secret ${ref}: expected NAMESPACE/NAME (lower-case DNS names)`, usage);
  const dnsNames = list(args.values.dns);
  for (const d of dnsNames) if (!DNS_SUBDOMAIN.test(d) && !/^\*\.[a-z0-9.-]+$/.test(d)) throw new UsageError(`--dns ${d}: expected host names such as localhost,shop.example.com`, usage);
  const ipAddresses = list(args.values.ip);
  for (const a of ipAddresses) if (isIP(a) === 0) throw new UsageError(`--ip ${a}: expected IP addresses such as 127.0.0.1,172.28.0.6`, usage);
  const stateDir = path.resolve(args.values['state-dir']!);
  if (!(await new FileCaStore(stateDir).load())) throw new OperatorError(`no mesh CA in ${stateDir}: start \`trellis serve --state-dir ${stateDir}\` first (it creates the CA), then issue the certificate`);
  const ca = await CertificateAuthority.open({ trustDomain: args.values['trust-domain']!, stateDir });
  const secret = issueTlsSecret(ca, { namespace, name, dnsNames, ipAddresses, writtenBy: 'trellis ca issue-tls' });
  if (args.values.out) await writeOutput(args.values.out, secret, 0o600);
  else process.stdout.write(secret);
  if (args.values['ca-out']) await writeOutput(args.values['ca-out'], ca.trustBundlePem(), 0o644);
  return 0;
}
