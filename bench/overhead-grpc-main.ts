/**
 * One gRPC generator process of `scripts/bench.sh overhead`
 * (bench/overhead.ts). grpc-js spends a few hundred microseconds of CPU per
 * unary call; in one Node process beside the others the generator topped out
 * at 580–800 rps, so the benchmark splits the gRPC rate over several of
 * these, each on its own channels.
 *   argv: <target> <authority or -> <channels>
 * IPC, from the parent: {rate, seconds, record}; answer: the Driven result
 * (overhead-load.ts). `{close: true}` ends it.
 */
import { drive, grpcSender } from './overhead-load.ts';

const [target, authority, channels] = process.argv.slice(2) as [string, string, string];
if (!process.send) {
  process.stderr.write('bench/overhead-grpc-main.ts is started by bench/overhead.ts\n');
  process.exit(2);
}
process.on('disconnect', () => process.exit(0));

const sender = grpcSender(target, authority === '-' ? undefined : authority, Number(channels));
process.on('message', (m: { rate: number; seconds: number; record: boolean } | { close: true }) => {
  if ('close' in m) {
    sender.close();
    process.exit(0);
  }
  void drive(sender.send, m.rate, m.seconds, m.record).then((r) => process.send!(r));
});
process.send({ ready: true });
