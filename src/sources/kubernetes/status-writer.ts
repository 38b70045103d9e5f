/**
 * Writes intents' status through the status subresource (a JSON merge patch
 * of `status`, so spec edits racing with it never conflict).
 *
 * Only what changed is written: the computed status is compared with the one
 * stored (read from the watch cache), so a restart, or a replica taking over,
 * writes nothing when the cluster already says the right thing. Passes are
 * throttled (`minIntervalMs`), because Programmed moves with every ACK.
 *
 * One writer per mesh: `isLeader` gates every pass (see leader.ts).
 */
import type { Logger } from '../../log.ts';
import type { ObjectStatus } from '../../model/index.ts';
import { KubeApiError, type KubeRest } from './rest.ts';
import { groupKind, objectPath, WATCHED } from './resources.ts';
import { routeStatus, sameRouteStatus, type RouteStatusBody } from './route-status.ts';
import { gatewayStatus, isOwnGatewayStatus, sameGatewayStatus, type GatewayStatusBody } from './gateway-status.ts';
import { intentStatus, parseStoredStatus, sameStatus, type ExtraCondition, type IntentStatusBody, type ProgrammedSummary } from './status.ts';
import { errorMessage } from '../../errors.ts';
import { SerialJob } from '../serial-job.ts';

type Json = Record<string, unknown>;

export interface StatusWriterOptions {
  rest: KubeRest;
  log: Logger;
  /** The object as stored (status included), or undefined if it is gone. */
  stored: (kind: string, namespace: string, name: string, apiVersion: string) => Json | undefined;
  minIntervalMs?: number;
  isLeader?: () => boolean;
  now?: () => Date;
}

/** By groupKind: SMI's TCPRoute and the Gateway API's are written at their own paths. */
const INTENTS = new Map(WATCHED.filter((r) => r.intent).map((r) => [groupKind(r.apiVersion, r.kind), r]));
/** Trellis's own Gateways and GatewayClasses: their status is Trellis's to write (gateway-status.ts). */
const GATEWAYS = new Map(WATCHED.filter((r) => r.kind === 'Gateway' || r.kind === 'GatewayClass').map((r) => [groupKind(r.apiVersion, r.kind), r]));
/** A write we made, until the watch cache shows it (it arrives a moment later). */
const PENDING_TTL_MS = 10_000;

export class StatusWriter {
  private statuses: readonly ObjectStatus[] = [];
  private programmed: ProgrammedSummary = { proxies: 0, programmed: 0, rejected: [] };
  private timer: NodeJS.Timeout | undefined;
  /** One pass at a time; an update during a pass makes one more. */
  private readonly passes = new SerialJob(() => this.passOnce(), () => this.closed);
  private lastPass = 0;
  private closed = false;
  private readonly written = new Map<string, { body: IntentStatusBody | RouteStatusBody | GatewayStatusBody; at: number }>();
  /** Kinds whose status subresource is missing (a CRD without it): logged once. */
  private readonly noStatus = new Set<string>();
  readonly stats = { passes: 0, writes: 0, failures: 0 };
  private extraConditions: ((kind: string, namespace: string, name: string) => readonly ExtraCondition[]) | undefined;

  constructor(private readonly opts: StatusWriterOptions) {}

  /** Conditions the runtime adds to an object's (a Rollout's progress); a pass follows. */
  setExtraConditions(fn: (kind: string, namespace: string, name: string) => readonly ExtraCondition[]): void {
    this.extraConditions = fn;
    this.schedule();
  }

  /** New inputs; a pass follows, throttled. */
  update(input: { statuses?: readonly ObjectStatus[]; programmed?: ProgrammedSummary }): void {
    if (input.statuses) this.statuses = input.statuses;
    if (input.programmed) this.programmed = input.programmed;
    this.schedule();
  }

  /** Runs a pass now and waits for it (tests, shutdown). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.pass();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.passes.idle();
  }

  private schedule(): void {
    if (this.closed || this.timer) return;
    const wait = Math.max(0, this.lastPass + (this.opts.minIntervalMs ?? 1000) - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.pass();
    }, wait);
    this.timer.unref();
  }

  private pass(): Promise<void> {
    return this.passes.run();
  }

  private async passOnce(): Promise<void> {
    this.lastPass = Date.now();
    if (this.opts.isLeader && !this.opts.isLeader()) return;
    this.stats.passes++;
    await this.writeChanged();
  }

  private async writeChanged(): Promise<void> {
    const now = (this.opts.now?.() ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const t = Date.now();
    for (const s of this.statuses) {
      const kind = groupKind(s.apiVersion, s.kind);
      const resource = INTENTS.get(kind) ?? (isOwnGatewayStatus(s) ? GATEWAYS.get(kind) : undefined);
      if (!resource || this.noStatus.has(kind) || this.closed) continue;
      const stored = this.opts.stored(s.kind, s.namespace, s.name, s.apiVersion);
      if (!stored) continue; // deleted meanwhile
      const storedGeneration = (stored.metadata as Json | undefined)?.generation;
      // The model saw an older generation than the cluster has: its verdict would be stale.
      if (typeof storedGeneration === 'number' && s.generation !== undefined && storedGeneration > s.generation) continue;
      const key = `${kind}/${s.namespace}/${s.name}`;
      const mine = this.written.get(key);
      let patch: Json;
      let body: IntentStatusBody | RouteStatusBody | GatewayStatusBody;
      if (GATEWAYS.has(kind)) {
        const gateway = gatewayStatus(s, stored.status, now);
        if (sameGatewayStatus(stored.status, gateway)) continue;
        if (mine && t - mine.at < PENDING_TTL_MS && sameGatewayStatus(mine.body, gateway)) continue;
        body = gateway;
        patch = { status: gateway };
      } else if (resource.routeParents) {
        // Gateway API routes: status.parents, our entries beside other controllers'. The merge patch
        // replaces the whole list, so it carries the resourceVersion it was computed from: a
        // controller that wrote meanwhile makes it fail (409) rather than lose its entry.
        const route = routeStatus(s, stored.status, now);
        if (sameRouteStatus(stored.status, route)) continue;
        if (mine && t - mine.at < PENDING_TTL_MS && sameRouteStatus(mine.body, route)) continue;
        const resourceVersion = (stored.metadata as Json | undefined)?.resourceVersion;
        body = route;
        patch = { ...(typeof resourceVersion === 'string' ? { metadata: { resourceVersion } } : {}), status: route };
      } else {
        const current = parseStoredStatus(stored.status);
        const intent = intentStatus(s, this.programmed, current?.conditions, now, this.extraConditions?.(s.kind, s.namespace, s.name));
        if (sameStatus(current, intent)) continue;
        if (mine && t - mine.at < PENDING_TTL_MS && sameStatus(mine.body as IntentStatusBody, intent)) continue;
        body = intent;
        patch = { status: intent };
      }
      try {
        await this.opts.rest.patch(`${objectPath(resource, s.namespace || undefined, s.name)}/status`, patch, 'merge');
        this.written.set(key, { body, at: t });
        this.stats.writes++;
      } catch (err) {
        this.stats.failures++;
        if (err instanceof KubeApiError && err.status === 404) {
          // The object is gone, or its CRD has no status subresource: the object itself tells which.
          const exists = await this.opts.rest.get(objectPath(resource, s.namespace || undefined, s.name)).then(() => true, () => false);
          if (exists && !this.noStatus.has(kind)) {
            this.noStatus.add(kind);
            this.opts.log.warn({ kind: s.kind }, `cannot write ${s.kind} status: the API server has no status subresource for it; apply the CRDs in deploy/crds`);
          }
          continue;
        }
        this.opts.log.warn({ kind: s.kind, namespace: s.namespace, name: s.name, err: errorMessage(err) }, 'status write failed; retrying on the next pass');
        // Retry throttled, not in a tight loop against a failing API server.
        this.passes.cancelRerun();
        this.schedule();
      }
    }
    for (const [k, v] of this.written) if (t - v.at > PENDING_TTL_MS) this.written.delete(k);
  }
}
