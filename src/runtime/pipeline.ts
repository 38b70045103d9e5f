/**
 * The part of a mesh that does not depend on its source: source objects ->
 * model (keeping the last good version of a rejected object) -> publisher ->
 * cache, with the bookkeeping the admin API and tests read. Each running
 * mesh (SourcedMesh in mesh.ts: FileMesh, KubeMesh) owns one and only feeds
 * it objects.
 */
import { logDiagnostic, type Logger } from '../log.ts';
import type { SnapshotCache } from '../cache/snapshot-cache.ts';
import { buildMeshKeepingLastGood, formatProblem, type AcceptedInputs, type BuildResult, type MeshModel, type ObjectStatus } from '../model/index.ts';
import type { SourceObject } from '../model/object.ts';
import { MeshPublisher, type SecretSource } from './publisher.ts';

export class MeshPipeline {
  readonly publisher: MeshPublisher;
  statuses: ObjectStatus[] = [];
  model: MeshModel | undefined;
  /** Model versions published. */
  generation = 0;
  lastPublishMs = 0;
  private accepted: AcceptedInputs | undefined;
  private readonly listeners: Array<() => void> = [];

  constructor(
    cache: SnapshotCache,
    private readonly log: Logger,
    secrets?: SecretSource,
  ) {
    this.publisher = new MeshPublisher(cache, log.child({ component: 'publisher' }), secrets);
  }

  onPublished(listener: () => void): void {
    this.listeners.push(listener);
  }

  /**
   * Build and publish a new model version from every object the source holds
   * now. `beforeListeners` runs after the publish and before onPublished
   * listeners (the Kubernetes source writes status there).
   */
  apply(objects: readonly SourceObject[], logFields: Record<string, unknown> = {}, beforeListeners?: (result: BuildResult) => void): BuildResult {
    const t0 = performance.now();
    const result = buildMeshKeepingLastGood(objects, this.accepted);
    this.accepted = result.accepted;
    this.statuses = result.statuses;
    for (const s of result.statuses) {
      for (const p of s.problems) if (p.severity === 'error') logDiagnostic(this.log, formatProblem(p), { file: p.file, line: p.line, reason: p.reason });
    }
    this.model = result.model;
    const stats = this.publisher.publish(result.model);
    this.generation++;
    this.lastPublishMs = performance.now() - t0;
    this.log.info(
      { generation: this.generation, ...logFields, services: result.model.services.size, proxies: stats.proxies, translated: stats.translated, ms: Math.round(this.lastPublishMs) },
      'mesh published',
    );
    beforeListeners?.(result);
    for (const l of this.listeners) l();
    return result;
  }
}
