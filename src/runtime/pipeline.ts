/**
 * The part of a mesh that does not depend on its source: source objects ->
 * model (keeping the last good version of a rejected object) -> publisher ->
 * cache, with the bookkeeping the admin API and tests read. Each running
 * mesh (SourcedMesh in mesh.ts: FileMesh, KubeMesh) owns one and only feeds
 * it objects.
 *
 * A build or publish that throws is a bug of ours, never operator input
 * (that becomes conditions). It must not freeze the control plane (issue 16
 * bug 4): the failure is logged at error and shown by /readyz, the last
 * model that published keeps being served (to connected proxies and to new
 * ones), nothing of the failed attempt is kept, and the next change is
 * built from scratch again.
 */
import { logDiagnostic, type Logger } from '../log.ts';
import { errorMessage } from '../errors.ts';
import type { SnapshotCache } from '../cache/snapshot-cache.ts';
import { buildMeshKeepingLastGood, formatProblem, type AcceptedInputs, type BuildResult, type MeshModel, type ObjectStatus } from '../model/index.ts';
import type { SourceObject } from '../model/object.ts';
import type { ObjectKey, RolloutWeight } from '../model/types.ts';
import { MeshPublisher, type SecretSource } from './publisher.ts';

/** The last attempt to build and publish failed (cleared by the next that succeeds). */
export interface PipelineFailure {
  message: string;
  /** When the first of the consecutive failures happened (epoch ms). */
  sinceMs: number;
  /** Consecutive failed attempts. */
  attempts: number;
}

export class MeshPipeline {
  readonly publisher: MeshPublisher;
  statuses: ObjectStatus[] = [];
  model: MeshModel | undefined;
  /** Model versions published. */
  generation = 0;
  lastPublishMs = 0;
  failure: PipelineFailure | undefined;
  /** Set once the CA is open: the trust domain its identities are in, which builds then hold (resolve/mesh.ts). */
  runningTrustDomain: string | undefined;
  private accepted: AcceptedInputs | undefined;
  /** The canary weights the rollout controller has set: a build input like the objects (BuildOptions.rolloutProgress). */
  private rolloutProgress: ReadonlyMap<ObjectKey, RolloutWeight> | undefined;
  /** The last objects applied, so a new rollout weight can be built without the source (rebuild). */
  private last: { objects: readonly SourceObject[]; beforeListeners?: (result: BuildResult) => void } | undefined;
  private readonly listeners: Array<(result: BuildResult) => void> = [];
  /** Told of every object set before it is built (a cluster's Rollout status carries progress: rollout/kube-store.ts). */
  private readonly objectWatchers: Array<(objects: readonly SourceObject[]) => void> = [];

  constructor(
    cache: SnapshotCache,
    private readonly log: Logger,
    secrets?: SecretSource,
  ) {
    this.publisher = new MeshPublisher(cache, log.child({ component: 'publisher' }), secrets);
  }

  onPublished(listener: (result: BuildResult) => void): void {
    this.listeners.push(listener);
  }

  /** `watcher` sees each object set first and may set the rollout progress for its build (without a rebuild). */
  onObjects(watcher: (objects: readonly SourceObject[]) => void): void {
    this.objectWatchers.push(watcher);
  }

  /**
   * Accepted versions to fall back on before any build has accepted one: the
   * last good copies persisted by an earlier run (file source).
   */
  seedAccepted(accepted: AcceptedInputs): void {
    if (!this.accepted) this.accepted = accepted;
  }

  /**
   * Build and publish a new model version from every object the source holds
   * now. `beforeListeners` runs after the publish and before onPublished
   * listeners (the Kubernetes source writes status there). Returns undefined
   * when the attempt failed (see the file comment).
   */
  apply(objects: readonly SourceObject[], logFields: Record<string, unknown> = {}, beforeListeners?: (result: BuildResult) => void): BuildResult | undefined {
    const t0 = performance.now();
    this.last = { objects, ...(beforeListeners ? { beforeListeners } : {}) };
    for (const w of this.objectWatchers) w(objects);
    let result: BuildResult;
    try {
      result = buildMeshKeepingLastGood(objects, this.accepted, {
        runningTrustDomain: this.runningTrustDomain,
        ...(this.rolloutProgress ? { rolloutProgress: this.rolloutProgress } : {}),
        // Unchanged entities stay the objects the publisher has read already (model/share.ts).
        ...(this.model ? { previousModel: this.model } : {}),
      });
      const stats = this.publisher.publish(result.model);
      this.generation++;
      this.lastPublishMs = performance.now() - t0;
      this.log.info(
        { generation: this.generation, ...logFields, services: result.model.services.size, proxies: stats.proxies, translated: stats.translated, ms: Math.round(this.lastPublishMs) },
        'mesh published',
      );
    } catch (err) {
      this.failed(err);
      return undefined;
    }
    this.failure = undefined;
    this.accepted = result.accepted;
    this.statuses = result.statuses;
    this.model = result.model;
    for (const s of result.statuses) {
      for (const p of s.problems) if (p.severity === 'error') logDiagnostic(this.log, formatProblem(p), { file: p.file, line: p.line, reason: p.reason });
    }
    try {
      beforeListeners?.(result);
      for (const l of this.listeners) l(result);
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'a listener of published meshes threw (bug); the mesh is published');
    }
    return result;
  }

  /**
   * The rollout controller's weights from now on (set before the first
   * apply, they are what a restart builds); with objects applied already,
   * the mesh is built again from them at once.
   */
  setRolloutProgress(progress: ReadonlyMap<ObjectKey, RolloutWeight>, logFields: Record<string, unknown> = {}, rebuild = true): void {
    this.rolloutProgress = progress;
    if (this.last && rebuild) this.apply(this.last.objects, { ...logFields, cause: 'rollout' }, this.last.beforeListeners);
  }

  private failed(err: unknown): void {
    const message = errorMessage(err);
    this.failure = { message, sinceMs: this.failure?.sinceMs ?? Date.now(), attempts: (this.failure?.attempts ?? 0) + 1 };
    const served = this.model ? `still serving generation ${this.generation}` : 'nothing published yet';
    this.log.error({ err: message, attempts: this.failure.attempts, ...(err instanceof Error && err.stack ? { stack: err.stack } : {}) },
      `building or publishing the mesh failed (a Trellis bug; please report it); ${served}, to connected and newly connecting proxies; the next change is tried again`);
    // The publisher may hold the failed model (and some proxies its config): put the last good one back.
    if (!this.model) return;
    try {
      this.publisher.publish(this.model);
    } catch (again) {
      this.log.error({ err: errorMessage(again) }, 'republishing the last good mesh failed too; proxies keep what they hold');
    }
  }
}
