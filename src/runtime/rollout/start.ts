/**
 * The Rollout controller in a running control plane: where its progress is
 * kept (store.ts: a state file with a state dir, the Rollouts' status in a
 * cluster, else memory), restored before the mesh's first build, and run
 * once the golden-metrics reader exists.
 */
import type { Logger } from '../../log.ts';
import type { GoldenMetricsReader } from '../../admin/golden/reader.ts';
import type { RolloutsAnswer } from '../../admin/rollouts.ts';
import type { KubeMesh } from '../kube-mesh.ts';
import type { RunningMesh } from '../mesh.ts';
import { RolloutController } from './controller.ts';
import { FileProgressStore, MemoryProgressStore, type ProgressStore } from './store.ts';

export interface RolloutOptions {
  /** Default true (with a mesh). */
  enabled?: boolean;
  /** Longest sleep between ticks (default 1 s). */
  maxTickMs?: number;
}

export interface RunningRollouts {
  readonly controller: RolloutController;
  run(reader: GoldenMetricsReader): void;
  answer(): RolloutsAnswer;
  stop(): Promise<void>;
}

export async function startRollouts(o: RolloutOptions & { mesh: RunningMesh; kube?: KubeMesh; stateDir?: string; log: Logger }): Promise<RunningRollouts> {
  const log = o.log.child({ component: 'rollouts' });
  const store: ProgressStore = o.kube
    ? new (await import('./kube-store.ts')).KubeProgressStore(o.kube, log)
    : o.stateDir ? new FileProgressStore(o.stateDir, log) : new MemoryProgressStore();
  const leader = o.kube?.leader;
  const isLeader = leader ? () => leader.isLeader() : undefined;
  const kube = o.kube;
  const { recordedStates, rolloutKeys } = await import('./kube-store.ts');
  const recorded = kube ? (keys: readonly string[]) => recordedStates(keys, (k, ns, n, v) => kube.source.stored(k, ns, n, v)) : undefined;
  const controller = new RolloutController({
    mesh: o.mesh, store, log,
    ...(isLeader ? { isLeader } : {}),
    ...(recorded ? { recorded } : {}),
    ...(o.maxTickMs !== undefined ? { maxTickMs: o.maxTickMs } : {}),
  });
  await controller.load();
  // The first build (and each after) of a cluster's objects serves the progress their status records.
  if (kube && recorded) kube.onObjects((objects) => controller.adoptNewer(recorded(rolloutKeys(objects)), false));
  // Status: the Progressing condition beside Accepted and Programmed, written again after each decision.
  const writer = kube?.statusWriter;
  if (writer) {
    writer.setExtraConditions((kind, ns, name) => {
      const c = kind === 'Rollout' ? controller.condition(`${ns}/${name}`) : undefined;
      return c ? [c] : [];
    });
    controller.onChange(() => writer.update({}));
  }
  return {
    controller,
    run: (reader) => controller.start(reader),
    answer: () => controller.answer(isLeader?.() ?? true),
    stop: () => controller.stop(),
  };
}
