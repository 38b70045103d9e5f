/**
 * In a cluster, the rate limit service's config (runtime/ratelimit-config.ts
 * says what it holds) lives in a ConfigMap that Trellis keeps current and the
 * envoyproxy/ratelimit Deployment mounts (deploy/kubernetes/ratelimit/): the
 * service reads files, and a ConfigMap volume is how a file reaches another
 * pod. Kubernetes swaps the mounted files when the ConfigMap changes (within
 * the kubelet's sync period, about a minute), and the service, run with
 * RUNTIME_WATCH_ROOT=false, reloads on that swap.
 *
 * Only the leader writes (the status writer's Lease, sources/kubernetes/
 * leader.ts), so replicas never fight over it; a new leader writes what its
 * predecessor left out of date. A write is a merge patch of `data` (created
 * when missing), made only when the text changed: endpoint churn publishes
 * often, and changes no limit.
 */
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { KubeApiError, type KubeRest } from '../sources/kubernetes/rest.ts';
import { SerialJob } from '../sources/serial-job.ts';
import type { KubeMesh } from './kube-mesh.ts';
import { RATELIMIT_CONFIG_FILE, rateLimitConfigText } from './ratelimit-config.ts';

/** The ConfigMap's key: the file name the service finds in its config folder. */
export const RATELIMIT_CONFIGMAP_KEY = RATELIMIT_CONFIG_FILE.split('/').at(-1)!;

export interface RateLimitConfigMap {
  namespace: string;
  name: string;
}

/** Without a rate limit service: an empty domain, so a running service serves nothing stale. */
const NO_SERVICE = '# Written by Trellis: the MeshConfig names no rate limit service.\ndomain: trellis\ndescriptors: []\n';

export class RateLimitConfigMapWriter {
  private written: string | undefined;
  private closed = false;
  private readonly job = new SerialJob(() => this.pass(), () => this.closed);
  readonly stats = { writes: 0, failures: 0 };

  constructor(
    private readonly o: RateLimitConfigMap & { kube: KubeMesh; rest: KubeRest; log: Logger },
  ) {}

  private get path(): string {
    return `/api/v1/namespaces/${this.o.namespace}/configmaps/${this.o.name}`;
  }

  /** Write now (if leader and changed), and after every publish; a new leader writes again. */
  start(): void {
    this.o.kube.onPublished(() => void this.job.run());
    this.o.kube.onLeadership((leader) => {
      // What is stored may be a predecessor's: compare afresh.
      if (leader) this.written = undefined;
      void this.job.run();
    });
    void this.job.run();
  }

  /** Runs a pass now and waits for it (tests). */
  flush(): Promise<void> {
    return this.job.run();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.job.idle();
  }

  private async pass(): Promise<void> {
    const model = this.o.kube.model;
    if (!model || !this.o.kube.isLeader()) return;
    const text = rateLimitConfigText(model) ?? NO_SERVICE;
    if (text === this.written) return;
    const where = `ConfigMap ${this.o.namespace}/${this.o.name}`;
    try {
      await this.write(text);
      this.written = text;
      this.stats.writes++;
      this.o.log.info({ configMap: `${this.o.namespace}/${this.o.name}` }, 'rate limit service config written');
    } catch (err) {
      // The mesh keeps being served; the service keeps its previous config until the next publish retries.
      this.stats.failures++;
      this.o.log.error({ err: errorMessage(err) }, `could not write the rate limit service config to ${where} (deploy/kubernetes/ratelimit gives Trellis get and patch on it)`);
    }
  }

  private async write(text: string): Promise<void> {
    const data = { [RATELIMIT_CONFIGMAP_KEY]: text };
    try {
      await this.o.rest.patch(this.path, { data });
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 404)) throw err;
      await this.o.rest.post(`/api/v1/namespaces/${this.o.namespace}/configmaps`, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: this.o.name, namespace: this.o.namespace, labels: { 'app.kubernetes.io/managed-by': 'trellis' } },
        data,
      });
    }
  }
}
