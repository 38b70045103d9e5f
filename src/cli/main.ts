/**
 * `trellis` entry point. The composition root stays thin: each subcommand lives
 * in its own file and is imported only when it runs, so `trellis validate`
 * does not pay for loading gRPC and the Envoy protos.
 */
import { parseArgs } from './args.ts';

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  ca: { summary: 'root rotation: ca rotate [--finish]', load: async () => (await import('./certs.ts')).caCommand },
  certs: { summary: 'list issued certificates (serial, SPIFFE ID, validity, root; never keys)', load: async () => (await import('./certs.ts')).certsCommand },
  bootstrap: { summary: 'print the Envoy bootstrap of a workload, with its identity token', load: async () => (await import('./bootstrap.ts')).bootstrapCommand },
  inject: { summary: 'add the Envoy sidecar, its bootstrap, token and iptables redirect to workload manifests', load: async () => (await import('./inject.ts')).injectCommand },
  demo: { summary: 'run the demo mesh on this machine with real Envoy sidecars', load: async () => (await import('./demo.ts')).demoCommand },
  serve: { summary: 'run the xDS server and admin API', load: async () => (await import('./serve.ts')).serveCommand },
  validate: { summary: 'check intents (files or directories) before apply', load: async () => (await import('./validate.ts')).validateCommand },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(14)}${c.summary}`);
  return `usage: trellis <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`trellis: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return (await command.load())(rest);
}

// parseArgs is re-exported for subcommands' tests.
export { parseArgs };

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0 || !process.env.TRELLIS_KEEP_ALIVE) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`trellis: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
