/**
 * What `serve`, the admin API and tests need from a mesh, whichever source
 * feeds it: FileMesh (a folder) or KubeMesh (a cluster). Both run the same
 * pipeline: source objects -> model (last good kept) -> publisher -> cache.
 */
import type { Logger } from '../log.ts';
import type { SnapshotCache } from '../cache/snapshot-cache.ts';
import type { MeshModel, ObjectStatus } from '../model/index.ts';
import type { SourceError } from '../model/object.ts';
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

  abstract start(): Promise<void>;
  abstract flush(): Promise<void>;
  abstract close(): Promise<void>;
}
