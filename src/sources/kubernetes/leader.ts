/**
 * One status writer among replicas: a coordination.k8s.io/v1 Lease, the way
 * client-go's leader election uses one. Every replica serves xDS; only the
 * holder of the Lease writes status, so replicas never fight over it.
 *
 * - acquire: create the Lease, or take it over when its holder has not
 *   renewed it within leaseDurationSeconds (by the holder's own renewTime);
 * - renew: every `renewEveryMs`, an update with the resourceVersion read, so
 *   two replicas racing for an expired Lease cannot both win (409 for one);
 * - a holder that cannot renew stops acting as leader when its own lease
 *   would have expired, before anyone else can take it over;
 * - stop() gives the Lease up (holder cleared), so a rolling update hands
 *   over at once instead of after a lease duration.
 */
import type { Logger } from '../../log.ts';
import { KubeApiError, type KubeRest } from './rest.ts';
import { errorMessage } from '../../errors.ts';

type Json = Record<string, unknown>;

export interface LeaseLeaderOptions {
  rest: KubeRest;
  namespace: string;
  name?: string;
  /** Unique per replica: the pod name. */
  identity: string;
  leaseDurationSeconds?: number;
  renewEveryMs?: number;
  log: Logger;
  onChange?: (leader: boolean) => void;
}

/** metav1.MicroTime: RFC 3339 with microseconds. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaseLeader {
  private timer: NodeJS.Timeout | undefined;
  private validUntil = 0;
  private leader = false;
  private stopped = false;
  private running: Promise<void> | undefined;
  readonly name: string;

  constructor(private readonly opts: LeaseLeaderOptions) {
    this.name = opts.name ?? 'trellis-status-writer';
  }

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.opts.namespace}/leases/${this.name}`;
  }

  private get durationS(): number {
    return this.opts.leaseDurationSeconds ?? 15;
  }

  isLeader(): boolean {
    return this.leader && Date.now() < this.validUntil;
  }

  start(): void {
    this.stopped = false;
    const tick = () => {
      this.running = this.tryAcquireOrRenew().finally(() => {
        if (!this.stopped) {
          this.timer = setTimeout(tick, this.opts.renewEveryMs ?? Math.max(500, (this.durationS * 1000) / 3));
          this.timer.unref();
        }
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    if (!this.leader) return;
    this.set(false);
    try {
      const lease = await this.opts.rest.get<Json>(this.path);
      const spec = (lease.spec ?? {}) as Json;
      if (spec.holderIdentity !== this.opts.identity) return;
      await this.opts.rest.put(this.path, { ...lease, spec: { ...spec, holderIdentity: null, renewTime: null, acquireTime: null } });
    } catch (err) {
      this.opts.log.warn({ err: errorMessage(err) }, 'could not give up the leader Lease; it expires by itself');
    }
  }

  private set(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.opts.log.info({ lease: `${this.opts.namespace}/${this.name}`, identity: this.opts.identity }, leader ? 'became the status writer (Lease acquired)' : 'no longer the status writer');
    this.opts.onChange?.(leader);
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const now = Date.now();
    const spec = { holderIdentity: this.opts.identity, leaseDurationSeconds: this.durationS, renewTime: microTime(now) };
    try {
      let lease: Json;
      try {
        lease = await this.opts.rest.get<Json>(this.path);
      } catch (err) {
        if (!(err instanceof KubeApiError && err.status === 404)) throw err;
        await this.opts.rest.post(`/apis/coordination.k8s.io/v1/namespaces/${this.opts.namespace}/leases`, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.name, namespace: this.opts.namespace },
          spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 },
        });
        this.won(now);
        return;
      }
      const cur = (lease.spec ?? {}) as Json;
      const holder = typeof cur.holderIdentity === 'string' ? cur.holderIdentity : '';
      const renewed = typeof cur.renewTime === 'string' ? Date.parse(cur.renewTime) : 0;
      const duration = typeof cur.leaseDurationSeconds === 'number' ? cur.leaseDurationSeconds : this.durationS;
      const mine = holder === this.opts.identity;
      const expired = !holder || renewed + duration * 1000 < now;
      if (!mine && !expired) {
        this.set(false);
        return;
      }
      const transitions = typeof cur.leaseTransitions === 'number' ? cur.leaseTransitions : 0;
      await this.opts.rest.put(this.path, {
        ...lease,
        spec: {
          ...cur,
          ...spec,
          acquireTime: mine && typeof cur.acquireTime === 'string' ? cur.acquireTime : microTime(now),
          leaseTransitions: mine ? transitions : transitions + 1,
        },
      });
      this.won(now);
    } catch (err) {
      // 409: another replica updated the Lease first. Anything else: keep
      // acting only while our last renewal is still valid.
      if (!(err instanceof KubeApiError && err.status === 409)) {
        this.opts.log.warn({ err: errorMessage(err) }, 'leader Lease renewal failed');
      }
      if (Date.now() >= this.validUntil) this.set(false);
    }
  }

  private won(at: number): void {
    // A little less than the lease, so we stop before another replica may start.
    this.validUntil = at + this.durationS * 1000 * 0.8;
    this.set(true);
  }
}
