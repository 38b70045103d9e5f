// Helper of test/cli/inject-iptables.test.ts, run inside network namespaces:
//   serve NAME=HOST:PORT ...         each listener answers its NAME and closes
//   connect HOST:PORT[@LOCAL] ...    prints "HOST:PORT[@LOCAL] -> NAME|error" per target
import net from 'node:net';

const [mode, ...specs] = process.argv.slice(2);
if (mode === 'serve') {
  for (const spec of specs) {
    const [name, hostPort] = spec.split('=');
    const i = hostPort.lastIndexOf(':');
    net.createServer((s) => s.end(name)).listen(Number(hostPort.slice(i + 1)), hostPort.slice(0, i), () => {});
  }
  process.stdout.write('listening\n');
  setTimeout(() => process.exit(0), 30_000).unref();
  setInterval(() => {}, 1000);
} else {
  for (const spec of specs) {
    const [target, local] = spec.split('@');
    const i = target.lastIndexOf(':');
    const answer = await new Promise((resolve) => {
      let got = '';
      const s = net.connect({ host: target.slice(0, i), port: Number(target.slice(i + 1)), ...(local ? { localAddress: local } : {}) });
      s.setTimeout(1500, () => { s.destroy(); resolve('timeout'); });
      s.on('data', (d) => (got += d));
      s.on('end', () => resolve(got || 'empty'));
      s.on('error', (e) => resolve(e.code ?? 'error'));
    });
    process.stdout.write(`${spec} -> ${answer}\n`);
  }
}
