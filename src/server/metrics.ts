/**
 * Protocol metrics (XDS_RULES 29), through prom-client: the library every
 * Node service exposing Prometheus uses, with correct text format and
 * histogram buckets, instead of a hand-written exposition.
 */
import client from 'prom-client';
import { encodeStats } from '../cache/config-watcher.ts';

export class XdsMetrics {
  readonly registry = new client.Registry();

  readonly streams = new client.Gauge({
    name: 'trellis_xds_streams',
    help: 'Connected xDS streams',
    labelNames: ['api'] as const,
    registers: [this.registry],
  });
  readonly responses = new client.Counter({
    name: 'trellis_xds_responses_total',
    help: 'Discovery responses sent',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly responseBytes = new client.Counter({
    name: 'trellis_xds_response_bytes_total',
    help: 'Bytes of discovery responses sent',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly acks = new client.Counter({
    name: 'trellis_xds_acks_total',
    help: 'ACKs received',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly nacks = new client.Counter({
    name: 'trellis_xds_nacks_total',
    help: 'NACKs received (requests with error_detail)',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly changeToAck = new client.Histogram({
    name: 'trellis_xds_change_to_ack_seconds',
    help: 'From a config change to the ACK of the response carrying it',
    labelNames: ['type'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly blockedStreams = new client.Gauge({
    name: 'trellis_xds_blocked_streams',
    help: 'Streams whose client is not reading; each waits with only the latest state per type (queue depth ≤ 1 per type)',
    registers: [this.registry],
  });
  /** Set by the xDS server; read at scrape time (nothing else ever set the gauge, so it always read 0). */
  queueDepth: () => number = () => 0;
  readonly pendingTypes = new client.Gauge({
    name: 'trellis_xds_queue_depth',
    help: 'Types waiting to be sent to blocked streams, summed over streams',
    registers: [this.registry],
    collect: () => {
      this.pendingTypes.set(this.queueDepth());
    },
  });
  readonly oversized = new client.Counter({
    name: 'trellis_xds_large_responses_total',
    help: 'Responses larger than 3.5 MiB, close to the 4 MiB default receive limit of gRPC clients',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly rejectedStreams = new client.Counter({
    name: 'trellis_xds_rejected_requests_total',
    help: 'Requests refused with a gRPC status, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly identityFailures = new client.Counter({
    name: 'trellis_identity_failures_total',
    help: 'Streams that failed to prove an identity, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly resumed = new client.Counter({
    name: 'trellis_xds_resumed_total',
    help: 'Types a reconnecting client already held at the current version (nothing resent)',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly pushErrors = new client.Counter({
    name: 'trellis_xds_push_errors_total',
    help: 'Streams ended with INTERNAL because pushing config to them threw (a bug; logged with node and type)',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly snapshotsRejected = new client.Counter({
    name: 'trellis_snapshots_rejected_total',
    help: 'Snapshots not served because they failed the consistency check',
    registers: [this.registry],
  });
  readonly encodes = new client.Gauge({
    name: 'trellis_resource_encodes_total',
    help: 'Resources encoded to protobuf since start (once per distinct content, not per stream)',
    registers: [this.registry],
    collect() {
      this.set(encodeStats.encodes);
    },
  });

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'trellis_process_' });
  }
}
