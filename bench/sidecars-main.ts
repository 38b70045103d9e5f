/**
 * The memory benchmarks' proxies, in their own process so that their memory
 * is not counted as the server's: one Envoy-like ADS stream per workload
 * given (test/cli/ads-follower.ts: clusters and listeners by wildcard, then
 * what they name, every response ACKed), each on its own connection, as
 * sidecars are. With `cycleEveryMs`, one stream at a time leaves and a new
 * one (a new node id, the same workload) connects in its place: proxies
 * restarting. Started by bench/churn-mesh.ts; exits with its parent.
 */
import { sidecarNode } from '../test/support/mesh-harness.ts';
import { XdsTestClient } from '../test/support/ads-client.ts';
import { AdsFollower } from '../test/cli/ads-follower.ts';

export interface SidecarsConfig {
  address: string;
  /** `ns/pod` per stream */
  workloads: string[];
  cycleEveryMs: number;
}

if (!process.send) {
  process.stderr.write('bench/sidecars-main.ts is started by bench/churn-mesh.ts\n');
  process.exit(2);
}
process.on('disconnect', () => process.exit(0));

process.once('message', (raw: unknown) => {
  const config = raw as SidecarsConfig;
  let serial = 0;
  const connect = (workload: string) => {
    const client = new XdsTestClient(config.address, { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': -1 });
    const follower = new AdsFollower(client, sidecarNode(`${workload.replace('/', '.')}.${serial++}`, workload));
    return {
      close: () => {
        follower.close();
        client.close();
      },
    };
  };
  const proxies = config.workloads.map(connect);
  if (config.cycleEveryMs > 0) {
    let next = 0;
    setInterval(() => {
      const k = next++ % proxies.length;
      proxies[k]!.close();
      proxies[k] = connect(config.workloads[k]!);
    }, config.cycleEveryMs);
  }
  process.send!('started');
});
