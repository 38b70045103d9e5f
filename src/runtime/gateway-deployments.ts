/**
 * In a cluster, Trellis runs its Gateways (docs/gateway-api.md "In a
 * cluster"): for each Gateway of Trellis's GatewayClass in the mesh, the
 * ServiceAccount, Deployment and Service that inject/gateway-deployment.ts
 * renders, kept current; and the Gateway's `status.addresses` from that
 * Service (its LoadBalancer ingress, else its ClusterIP).
 *
 * - Only the leader writes (the status writer's Lease, like the rate limit
 *   ConfigMap), so replicas never fight; a new leader re-applies everything.
 * - Deployment and Service by server-side apply (field manager `trellis`):
 *   what Trellis stops saying (a listener's port) is removed, what others
 *   set (an HPA's replicas aside, which Trellis does set) is kept. Applied
 *   only when the rendered object changed since the last apply, and afresh
 *   every `resyncMs` (an object deleted by hand comes back).
 * - The ServiceAccount is created when missing and never updated: an
 *   operator's own account (annotation trellis.io/service-account) is theirs.
 * - When a Gateway goes (or leaves Trellis's class or the mesh), its objects
 *   are deleted by Trellis, found by label (`managed-by: trellis` and
 *   `gateway-name`); the ownerReference does the same through the garbage
 *   collector, and also covers a Gateway deleted while no Trellis runs.
 * - `serve --gateway-deployments=false` turns this off, for operators who
 *   run their gateways themselves.
 */
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { GATEWAY_NAME_LABEL, gatewayResourceName, MANAGED_BY, MANAGED_BY_LABEL, renderGatewayDeployment } from '../inject/gateway-deployment.ts';
import type { InjectOptions, Json } from '../inject/options.ts';
import { KubeApiError, type KubeRest } from '../sources/kubernetes/rest.ts';
import { SerialJob } from '../sources/serial-job.ts';
import type { KubeMesh } from './kube-mesh.ts';

const GATEWAY_API = 'gateway.networking.k8s.io/v1';
const APPLY = { fieldManager: 'trellis', force: 'true' };
/** The kinds Trellis makes per Gateway, where they are listed. */
const OWNED = [
  { kind: 'Deployment', collection: '/apis/apps/v1/deployments', path: (ns: string, n: string) => `/apis/apps/v1/namespaces/${ns}/deployments/${n}` },
  { kind: 'Service', collection: '/api/v1/services', path: (ns: string, n: string) => `/api/v1/namespaces/${ns}/services/${n}` },
  { kind: 'ServiceAccount', collection: '/api/v1/serviceaccounts', path: (ns: string, n: string) => `/api/v1/namespaces/${ns}/serviceaccounts/${n}` },
] as const;
type OwnedKind = (typeof OWNED)[number]['kind'];

export interface GatewayDeploymentsOptions {
  kube: KubeMesh;
  rest: KubeRest;
  log: Logger;
  /** What the gateway pods get (images, xDS address, the mesh roots and trust domain), read at each pass. */
  inject: () => InjectOptions;
  /** Re-apply everything this often (default 5 min). */
  resyncMs?: number;
}

/** A Gateway's `status.addresses` from its Service: the load balancer's, else the cluster IP; none while unknown. */
export interface GatewayAddress {
  type: 'IPAddress' | 'Hostname';
  value: string;
}

export function gatewayAddresses(service: Json | undefined): GatewayAddress[] {
  if (!service) return [];
  const ingress = ((service.status as Json | undefined)?.loadBalancer as Json | undefined)?.ingress;
  const fromLb = (Array.isArray(ingress) ? (ingress as Json[]) : []).flatMap((i): GatewayAddress[] =>
    typeof i.ip === 'string' ? [{ type: 'IPAddress', value: i.ip }] : typeof i.hostname === 'string' ? [{ type: 'Hostname', value: i.hostname }] : []);
  if (fromLb.length > 0) return fromLb;
  const clusterIp = (service.spec as Json | undefined)?.clusterIP;
  return typeof clusterIp === 'string' && clusterIp !== 'None' && clusterIp !== '' ? [{ type: 'IPAddress', value: clusterIp }] : [];
}

export class GatewayDeployments {
  private closed = false;
  private readonly job = new SerialJob(() => this.pass(), () => this.closed);
  /** What was last applied, by `kind/ns/name`: unchanged objects are not sent again. */
  private applied = new Map<string, string>();
  /** The owned objects wanted at the last sweep (`kind/ns/name`); a sweep runs when this changes. */
  private swept: string | undefined;
  /** Gateways whose annotations could not be read, by `ns/name`: warned once per message. */
  private readonly warned = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  readonly stats = { applies: 0, deletes: 0, addressWrites: 0, failures: 0 };

  constructor(private readonly o: GatewayDeploymentsOptions) {}

  start(): void {
    this.o.kube.onPublished(() => void this.job.run());
    this.o.kube.onLeadership((leader) => {
      // What is in the cluster may be a predecessor's: compare afresh.
      if (leader) this.forget();
      void this.job.run();
    });
    this.timer = setInterval(() => {
      this.forget();
      void this.job.run();
    }, this.o.resyncMs ?? 5 * 60_000);
    this.timer.unref();
    void this.job.run();
  }

  /** Runs a pass now and waits for it (tests). */
  flush(): Promise<void> {
    return this.job.run();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.job.idle();
  }

  private forget(): void {
    this.applied = new Map();
    this.swept = undefined;
  }

  private async pass(): Promise<void> {
    const model = this.o.kube.model;
    if (!model || !this.o.kube.isLeader()) return;
    const options = this.o.inject();
    const wanted = new Set<string>();
    for (const g of model.gateways.values()) {
      const stored = this.o.kube.source.stored('Gateway', g.namespace, g.name, GATEWAY_API);
      if (!stored) continue; // deleted meanwhile: the sweep takes its objects
      const render = renderGatewayDeployment({ gateway: stored, serviceAccount: g.serviceAccount, options });
      const key = `${g.namespace}/${g.name}`;
      if ('problems' in render) {
        // Its objects stay as they were: nothing is deleted for a value that could not be read.
        for (const k of ['Deployment', 'Service'] as const) wanted.add(`${k}/${g.namespace}/${gatewayResourceName(g.name, String((stored.spec as Json).gatewayClassName))}`);
        wanted.add(`ServiceAccount/${g.namespace}/${g.serviceAccount}`);
        const message = render.problems.map((p) => `${p.field}: ${p.message}`).join('; ');
        if (this.warned.get(key) !== message) this.o.log.warn({ gateway: key }, `Gateway ${key}: ${message}; its Deployment and Service are left as they are`);
        this.warned.set(key, message);
        continue;
      }
      this.warned.delete(key);
      const { serviceAccount, deployment, service } = render.objects;
      for (const obj of [serviceAccount, deployment, ...(service ? [service] : [])]) wanted.add(objectKey(obj));
      await this.ensureServiceAccount(serviceAccount);
      await this.apply(deployment);
      if (service) await this.apply(service);
      await this.writeAddresses(stored, service ? this.o.kube.source.stored('Service', g.namespace, String((service.metadata as Json).name)) : undefined);
    }
    const wantedKey = [...wanted].sort().join(',');
    if (this.swept !== wantedKey && (await this.sweep(wanted))) this.swept = wantedKey;
  }

  /** Server-side apply, when the object differs from what was last applied. */
  private async apply(obj: Json): Promise<void> {
    const key = objectKey(obj);
    const text = JSON.stringify(obj);
    if (this.applied.get(key) === text) return;
    const meta = obj.metadata as Json;
    const path = OWNED.find((k) => k.kind === obj.kind)!.path(String(meta.namespace), String(meta.name));
    try {
      await this.o.rest.patch(path, text, 'apply', APPLY);
      this.applied.set(key, text);
      this.stats.applies++;
      this.o.log.info({ object: key }, 'gateway object applied');
    } catch (err) {
      this.failed(`could not apply ${key}`, err);
    }
  }

  private async ensureServiceAccount(obj: Json): Promise<void> {
    const key = objectKey(obj);
    if (this.applied.has(key)) return;
    const meta = obj.metadata as Json;
    try {
      await this.o.rest.post(`/api/v1/namespaces/${String(meta.namespace)}/serviceaccounts`, obj);
      this.stats.applies++;
    } catch (err) {
      // 409: it exists (ours from before, or the operator's): either way it is left as it is.
      if (!(err instanceof KubeApiError && err.status === 409)) return this.failed(`could not create ${key}`, err);
    }
    this.applied.set(key, '');
  }

  private async writeAddresses(gateway: Json, service: Json | undefined): Promise<void> {
    const addresses = gatewayAddresses(service);
    if (addresses.length === 0) return;
    const current = (gateway.status as Json | undefined)?.addresses;
    if (JSON.stringify(current ?? []) === JSON.stringify(addresses)) return;
    const meta = gateway.metadata as Json;
    const key = `Gateway/${String(meta.namespace)}/${String(meta.name)}/addresses`;
    // Our write reaches the watch cache a moment later: do not write the same twice meanwhile.
    if (this.applied.get(key) === JSON.stringify(addresses)) return;
    try {
      await this.o.rest.patch(`/apis/${GATEWAY_API}/namespaces/${String(meta.namespace)}/gateways/${String(meta.name)}/status`, { status: { addresses } }, 'merge');
      this.applied.set(key, JSON.stringify(addresses));
      this.stats.addressWrites++;
    } catch (err) {
      this.failed(`could not write the addresses of Gateway ${String(meta.namespace)}/${String(meta.name)}`, err);
    }
  }

  /** Deletes the objects Trellis made for Gateways it no longer runs; true when every list and delete succeeded. */
  private async sweep(wanted: ReadonlySet<string>): Promise<boolean> {
    let ok = true;
    for (const k of OWNED) {
      let items: Json[];
      try {
        const list = await this.o.rest.get<Json>(k.collection, { labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY},${GATEWAY_NAME_LABEL}` });
        items = Array.isArray(list.items) ? (list.items as Json[]) : [];
      } catch (err) {
        this.failed(`could not list the ${k.kind}s Trellis made for gateways`, err);
        ok = false;
        continue;
      }
      for (const item of items) {
        const meta = item.metadata as Json;
        const key = `${k.kind}/${String(meta.namespace)}/${String(meta.name)}`;
        if (wanted.has(key)) continue;
        try {
          await this.o.rest.delete(k.path(String(meta.namespace), String(meta.name)));
          this.stats.deletes++;
          this.applied.delete(key);
          this.o.log.info({ object: key }, 'gateway object deleted: its Gateway is no longer run by Trellis');
        } catch (err) {
          if (!(err instanceof KubeApiError && err.status === 404)) {
            this.failed(`could not delete ${key}`, err);
            ok = false;
          }
        }
      }
    }
    return ok;
  }

  private failed(what: string, err: unknown): void {
    this.stats.failures++;
    this.o.log.error({ err: errorMessage(err) }, `${what} (deploy/kubernetes gives Trellis create, patch and delete on deployments, services and serviceaccounts); retried on the next change`);
  }
}

function objectKey(obj: Json): string {
  const meta = obj.metadata as Json;
  return `${String(obj.kind as OwnedKind)}/${String(meta.namespace)}/${String(meta.name)}`;
}
