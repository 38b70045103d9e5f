/**
 * What `serve`, the admin API and tests need from a mesh, whichever source
 * feeds it: FileMesh (a folder) or KubeMesh (a cluster). Both run the same
 * pipeline: source objects -> model (last good kept) -> publisher -> cache.
 */
import type { Logger } from '../log.ts';
import type { SnapshotCache } from '../cache/snapshot-cache.ts';
import type { DegradedState } from '../admin/http.ts';
import { isAccepted, type MeshModel, type ObjectStatus } from '../model/index.ts';
import { DEFAULT_MESH } from '../model/kinds/mesh-config.ts';
import type { SourceError, SourceObject } from '../model/object.ts';
import type { ObjectKey, RolloutWeight } from '../model/types.ts';
import { MeshPipeline } from './pipeline.ts';
import type { MeshPublisher, SecretSource } from './publisher.ts';

export interface RunningMesh {
  readonly publisher: MeshPublisher;
  readonly statuses: ObjectStatus[];
  readonly sourceErrors: SourceError[];
  readonly model: MeshModel | undefined;
  /** Model versions published. */
  readonly generation: number;
  readonly lastPublishMs: number;
  start(): Promise<void>;
  /** Apply pending source changes now (tests). */
  flush(): Promise<void>;
  onPublished(listener: () => void): void;
  /** From now on, refuse a MeshConfig whose trust domain is not this one (the CA's; see resolve/mesh.ts). */
  holdTrustDomain(trustDomain: string): void;
  /** The canary weights of the Rollouts from now on (runtime/rollout/controller.ts); rebuilds at once when objects were applied. */
  setRolloutProgress(progress: ReadonlyMap<ObjectKey, RolloutWeight>, logFields?: Record<string, unknown>, rebuild?: boolean): void;
  /** Why a proxy connecting now would get no config (/readyz 503), or null. */
  notReadyReason(): string | null;
  /** What the mesh serves that is not what its source says now (for /readyz, still 200); empty when all is well. */
  degraded(): DegradedState[];
  close(): Promise<void>;
}

/**
 * The running mesh, less its source: the pipeline and what is read of it.
 * FileMesh and KubeMesh extend it with the source they watch and feed the
 * pipeline from.
 */
export abstract class SourcedMesh implements RunningMesh {
  protected readonly pipeline: MeshPipeline;
  /** The source's objects that could not be read (a file that does not parse); their last good version is still served. */
  sourceErrors: SourceError[] = [];

  constructor(cache: SnapshotCache, log: Logger, secrets?: SecretSource) {
    this.pipeline = new MeshPipeline(cache, log, secrets);
  }

  get publisher(): MeshPublisher {
    return this.pipeline.publisher;
  }
  get statuses(): ObjectStatus[] {
    return this.pipeline.statuses;
  }
  get model(): MeshModel | undefined {
    return this.pipeline.model;
  }
  get generation(): number {
    return this.pipeline.generation;
  }
  get lastPublishMs(): number {
    return this.pipeline.lastPublishMs;
  }

  onPublished(listener: () => void): void {
    this.pipeline.onPublished(listener);
  }

  holdTrustDomain(trustDomain: string): void {
    this.pipeline.runningTrustDomain = trustDomain;
  }

  setRolloutProgress(progress: ReadonlyMap<ObjectKey, RolloutWeight>, logFields?: Record<string, unknown>, rebuild?: boolean): void {
    this.pipeline.setRolloutProgress(progress, logFields, rebuild);
  }

  /** See MeshPipeline.onObjects. */
  onObjects(watcher: (objects: readonly SourceObject[]) => void): void {
    this.pipeline.onObjects(watcher);
  }

  notReadyReason(): string | null {
    if (this.pipeline.model) return null;
    const failure = this.pipeline.failure;
    return `no mesh published yet${failure ? `: building it failed (${failure.message})` : ''}`;
  }

  degraded(): DegradedState[] {
    return [...this.sourceDegraded(), ...pipelineDegraded(this.pipeline)];
  }

  /** The source's own degraded states (a vanished folder, unreadable files). */
  protected sourceDegraded(): DegradedState[] {
    return [];
  }

  abstract start(): Promise<void>;
  abstract flush(): Promise<void>;
  abstract close(): Promise<void>;
}

/** At most this many objects served from their last good version are named one by one. */
const NAMED_OBJECTS = 20;

/** The pipeline's degraded states: failing builds, objects served from a last good version, a held trust domain. */
export function pipelineDegraded(pipeline: MeshPipeline): DegradedState[] {
  const out: DegradedState[] = [];
  const { failure, model } = pipeline;
  if (failure) {
    const served = model ? `generation ${pipeline.generation} is still served` : 'nothing was published yet';
    out.push({
      condition: 'PipelineFailing',
      sinceMs: failure.sinceMs,
      message: `building or publishing the mesh failed ${failure.attempts} time(s) in a row (${failure.message}); ${served} and the next change is tried again`,
    });
  }
  // Rejected objects whose last good version is served (accepted persisted copies of an unusable file are FileUnusable's).
  const lastGood = pipeline.statuses.filter((s) => !isAccepted(s) && (s.servedGeneration !== undefined || s.servedFromPersisted !== undefined));
  for (const s of lastGood.slice(0, NAMED_OBJECTS)) {
    const name = `${s.kind} ${s.namespace ? `${s.namespace}/` : ''}${s.name}`;
    const served = s.servedFromPersisted ? `the last good version persisted at ${s.servedFromPersisted}` : `its last good version (generation ${s.servedGeneration})`;
    out.push({ condition: 'ServedFromLastGood', ...(s.origin ? { file: s.origin.file } : {}), message: `${name}: generation ${s.generation ?? '?'} is rejected; ${served} is served (see /api/v1/intents)` });
  }
  if (lastGood.length > NAMED_OBJECTS) {
    out.push({ condition: 'ServedFromLastGood', message: `and ${lastGood.length - NAMED_OBJECTS} more objects served from their last good version (see /api/v1/intents)` });
  }
  const held = pipeline.runningTrustDomain;
  if (model && held !== undefined && model.mesh.source === undefined && held !== DEFAULT_MESH.trustDomain) {
    out.push({
      condition: 'TrustDomainHeld',
      message: `no MeshConfig is accepted, whose default trust domain "${DEFAULT_MESH.trustDomain}" would replace the running "${held}": the running one is kept until a restart (restore the MeshConfig, or restart Trellis and bootstrap every sidecar again)`,
    });
  }
  return out;
}
