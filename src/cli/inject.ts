/**
 * `trellis inject [-f FILE]... [options]`: reads workload manifests (files or
 * stdin), adds the sidecar to their pods (src/inject: what a pod gets and
 * why) and prints the result, or writes it to --out. What was injected,
 * skipped and why goes to stderr unless --quiet.
 */
import { readFile } from 'node:fs/promises';
import { errorMessage, UsageError } from '../errors.ts';
import { injectManifest } from '../inject/manifest.ts';
import { DEFAULT_INJECT_OPTIONS } from '../inject/options.ts';
import { portList } from '../inject/overrides.ts';
import { parseArgs } from './args.ts';
import { writeOutput } from './output.ts';

const ports = (values: string[], flag: string): number[] => values.flatMap((v) => portList(v, `--${flag}`));

export async function injectCommand(argv: string[]): Promise<number> {
  // `-f FILE` as kubectl spells it.
  const args = parseArgs(argv.map((a) => (a === '-f' ? '--filename' : a)), {
    values: {
      out: undefined,
      mode: DEFAULT_INJECT_OPTIONS.mode,
      'xds-address': DEFAULT_INJECT_OPTIONS.xdsAddress,
      'ca-file': undefined,
      'trust-domain': DEFAULT_INJECT_OPTIONS.trustDomain,
      image: DEFAULT_INJECT_OPTIONS.trellisImage,
      'envoy-image': DEFAULT_INJECT_OPTIONS.envoyImage,
      'token-audience': DEFAULT_INJECT_OPTIONS.tokenAudience,
      'token-expiration': String(DEFAULT_INJECT_OPTIONS.tokenExpirationSeconds),
    },
    booleans: ['plaintext', 'native-sidecar', 'quiet'],
    repeatable: ['filename', 'exclude-inbound-ports', 'exclude-outbound-ports', 'exclude-outbound-cidrs'],
  });
  const mode = args.values.mode;
  if (mode !== 'transparent' && mode !== 'explicit') throw new UsageError(`--mode ${mode}: expected transparent or explicit`);
  if (!args.values['ca-file'] && !args.booleans.plaintext) {
    throw new UsageError('--ca-file ROOT.crt is required (the mesh root the sidecars trust for the xDS connection: root.crt of the Secret trellis-ca), or --plaintext');
  }
  const caPem = args.values['ca-file'] ? await readInput(args.values['ca-file']) : undefined;
  if (caPem !== undefined && !caPem.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--ca-file ${args.values['ca-file']}: no PEM certificate in it`);
  const expiration = Number(args.values['token-expiration']);
  if (!Number.isInteger(expiration) || expiration < 600) throw new UsageError('--token-expiration: whole seconds, at least 600 (the kubelet\'s minimum)');
  const files = [...args.lists.filename!, ...args.positionals];
  const texts = files.length === 0 || (files.length === 1 && files[0] === '-') ? [await readStdin()] : await Promise.all(files.map((f) => (f === '-' ? readStdin() : readInput(f))));
  const result = injectManifest(texts.map((t) => t.replace(/\s+$/, '')).join('\n---\n'), {
    mode,
    xdsAddress: args.values['xds-address']!,
    caPem,
    trustDomain: args.values['trust-domain']!,
    trellisImage: args.values.image!,
    envoyImage: args.values['envoy-image']!,
    tokenAudience: args.values['token-audience']!,
    tokenExpirationSeconds: expiration,
    // Native sidecars unless --native-sidecar=false.
    nativeSidecar: !argv.some((a) => a === '--native-sidecar=false'),
    excludeInboundPorts: ports(args.lists['exclude-inbound-ports']!, 'exclude-inbound-ports'),
    excludeOutboundPorts: ports(args.lists['exclude-outbound-ports']!, 'exclude-outbound-ports'),
    excludeOutboundCidrs: args.lists['exclude-outbound-cidrs']!.flatMap((v) => v.split(',')).filter(Boolean),
  });
  if (args.values.out) await writeOutput(args.values.out, result.yaml);
  else process.stdout.write(result.yaml);
  if (!args.booleans.quiet) {
    for (const w of result.injected) process.stderr.write(`trellis inject: ${w}: sidecar added\n`);
    for (const s of result.skipped) process.stderr.write(`trellis inject: ${s.workload}: skipped (${s.reason})\n`);
    for (const w of result.warnings) process.stderr.write(`trellis inject: warning: ${w}\n`);
  }
  return 0;
}

async function readInput(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : errorMessage(e)}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
