/**
 * What `serve`, the admin API and tests need from a mesh, whichever source
 * feeds it: FileMesh (a folder) or KubeMesh (a cluster). Both run the same
 * pipeline: source objects -> model (last good kept) -> publisher -> cache.
 */
import type { MeshModel, ObjectStatus } from '../model/index.ts';
import type { SourceError } from '../model/object.ts';
import type { MeshPublisher } from './publisher.ts';

export interface RunningMesh {
  readonly publisher: MeshPublisher;
  statuses: ObjectStatus[];
  sourceErrors: SourceError[];
  model: MeshModel | undefined;
  /** Model versions published. */
  generation: number;
  lastPublishMs: number;
  start(): Promise<void>;
  /** Apply pending source changes now (tests). */
  flush(): Promise<void>;
  onPublished(listener: () => void): void;
  close(): Promise<void>;
}
