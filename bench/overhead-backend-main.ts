/**
 * The application side of `scripts/bench.sh overhead` (bench/overhead.ts), in
 * its own process so its CPU is not the load generator's: an HTTP/1.1 server,
 * a gRPC server (one unary method, raw bytes) and a TCP echo, each answering
 * a request with as many bytes as it got (the 1 KB payload back).
 *   argv: <address> <http port> <grpc port> <tcp port>
 * Prints `ready` when all three listen.
 */
import * as grpc from '@grpc/grpc-js';
import http from 'node:http';
import net from 'node:net';
import { ECHO_SERVICE } from './echo-service.ts';

const [address, httpPort, grpcPort, tcpPort] = process.argv.slice(2) as [string, string, string, string];

async function main(): Promise<void> {
  const web = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res.end(Buffer.concat(chunks)));
  });
  web.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => web.listen(Number(httpPort), address, r));
  const echo = net.createServer((c) => c.pipe(c));
  await new Promise<void>((r) => echo.listen(Number(tcpPort), address, r));
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, { Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request) });
  await new Promise<void>((resolve, reject) => server.bindAsync(`${address}:${grpcPort}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  process.stdout.write('ready\n');
}

main().catch((e: Error) => {
  process.stderr.write(`${e.stack ?? e.message}\n`);
  process.exit(1);
});
