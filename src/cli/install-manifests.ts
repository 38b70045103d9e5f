/**
 * What `trellis install` puts in a cluster: the CRDs of deploy/crds and the
 * objects of deploy/kubernetes, read from those files (one home for the
 * manifests) with the operator's options applied. Pure apart from reading
 * the files; `trellis check` reads the same list to know what to look for.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export type Json = Record<string, unknown>;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The namespace the manifests of deploy/kubernetes are written for. */
export const DEFAULT_NAMESPACE = 'trellis-system';
export const CA_SECRET = 'trellis-ca';
export const WEBHOOK_CONFIGURATION = 'trellis-sidecar-injector';
export const DEPLOYMENT = 'trellis';

export interface InstallOptions {
  namespace: string;
  /** undefined: as deploy/kubernetes/20-deployment.yaml says */
  replicas?: number;
  image?: string;
  /**
   * The global rate limit service too (deploy/kubernetes/ratelimit: Redis,
   * envoyproxy/ratelimit, the ConfigMap Trellis keeps, its RBAC), and
   * `serve --ratelimit-configmap` on the Trellis Deployment.
   */
  rateLimit?: boolean;
  /**
   * false: Trellis does not run the Gateways of its class (`serve
   * --gateway-deployments=false`), and its ClusterRole loses the rules that
   * let it write Deployments, Services and ServiceAccounts (default true).
   */
  gatewayDeployments?: boolean;
}

/** The ClusterRole rules that exist only for runtime/gateway-deployments.ts (deploy/kubernetes/10-rbac.yaml). */
function isGatewayDeploymentRule(rule: Json): boolean {
  const resources = (rule.resources ?? []) as string[];
  const verbs = (rule.verbs ?? []) as string[];
  return verbs.includes('create') && resources.length > 0 && resources.every((r) => ['deployments', 'services', 'serviceaccounts'].includes(r));
}

/** The ConfigMap of deploy/kubernetes/ratelimit that Trellis keeps and the service mounts. */
export const RATELIMIT_CONFIGMAP = 'trellis-ratelimit';

function yamlFiles(dir: string): string[] {
  const full = path.join(ROOT, dir);
  return readdirSync(full)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => path.join(full, f));
}

function yamlOf(files: readonly string[]): Json[] {
  return files
    .flatMap((f) => parseAllDocuments(readFileSync(f, 'utf8')).map((d) => d.toJSON() as Json))
    .filter((o) => o && typeof o === 'object');
}

/**
 * The CRD files, Trellis's own (deploy/crds) then the Gateway API's
 * (deploy/crds/gateway-api: the official standard-channel CRDs, byte for byte
 * from the pinned Go module, see scripts/setup-gateway-api.sh).
 */
export function crdFiles(): string[] {
  return [...yamlFiles('deploy/crds'), ...yamlFiles('deploy/crds/gateway-api')];
}

export function crdManifests(): Json[] {
  return yamlOf(crdFiles());
}

/** Every string naming the default namespace (metadata, RBAC subjects, the webhook's Service and selector) names `ns` instead. */
function renamespace<T>(value: T, ns: string): T {
  if (typeof value === 'string') return value.replaceAll(DEFAULT_NAMESPACE, ns) as T;
  if (Array.isArray(value)) return value.map((v) => renamespace(v, ns)) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renamespace(v, ns)])) as T;
  return value;
}

function customizeDeployment(d: Json, opts: InstallOptions): void {
  const spec = d.spec as Json;
  if (opts.replicas !== undefined) spec.replicas = opts.replicas;
  const pod = (spec.template as Json).spec as Json;
  const containers = [...((pod.initContainers ?? []) as Json[]), ...((pod.containers ?? []) as Json[])];
  if (opts.image) for (const c of containers) c.image = opts.image;
  const trellis = ((pod.containers ?? []) as Json[]).find((c) => c.name === 'trellis');
  if (!trellis) return;
  const args = trellis.args as string[];
  // serve's defaults name trellis-system: the webhook certificate's names and where injected sidecars connect.
  if (opts.namespace !== DEFAULT_NAMESPACE) {
    args.push('--webhook-dns-names', `trellis.${opts.namespace}.svc,trellis.${opts.namespace}.svc.cluster.local`);
    args.push('--inject-xds-address', `trellis.${opts.namespace}.svc:18000`);
  }
  if (opts.image) args.push('--inject-image', opts.image);
  if (opts.rateLimit) args.push('--ratelimit-configmap', RATELIMIT_CONFIGMAP);
  if (opts.gatewayDeployments === false) args.push('--gateway-deployments=false');
}

/** deploy/kubernetes with the options applied, in file order (namespace first). */
export function clusterManifests(opts: InstallOptions): Json[] {
  const files = [...yamlFiles('deploy/kubernetes'), ...(opts.rateLimit ? yamlFiles('deploy/kubernetes/ratelimit') : [])];
  const objects = yamlOf(files).map((o) => renamespace(o, opts.namespace));
  for (const o of objects) if (o.kind === 'Deployment') customizeDeployment(o, opts);
  if (opts.gatewayDeployments === false) {
    for (const o of objects) if (o.kind === 'ClusterRole') o.rules = ((o.rules ?? []) as Json[]).filter((r) => !isGatewayDeploymentRule(r));
  }
  return objects;
}

/** Everything install renders: the CRDs, then deploy/kubernetes. */
export function installManifests(opts: InstallOptions): Json[] {
  return [...crdManifests(), ...clusterManifests(opts)];
}

const KINDS: Record<string, { plural: string; namespaced: boolean }> = {
  CustomResourceDefinition: { plural: 'customresourcedefinitions', namespaced: false },
  Namespace: { plural: 'namespaces', namespaced: false },
  ServiceAccount: { plural: 'serviceaccounts', namespaced: true },
  Secret: { plural: 'secrets', namespaced: true },
  ConfigMap: { plural: 'configmaps', namespaced: true },
  Service: { plural: 'services', namespaced: true },
  ClusterRole: { plural: 'clusterroles', namespaced: false },
  ClusterRoleBinding: { plural: 'clusterrolebindings', namespaced: false },
  Role: { plural: 'roles', namespaced: true },
  RoleBinding: { plural: 'rolebindings', namespaced: true },
  Deployment: { plural: 'deployments', namespaced: true },
  MutatingWebhookConfiguration: { plural: 'mutatingwebhookconfigurations', namespaced: false },
};

/** The API group and resource of a kind install writes (for access reviews). */
export function resourceOf(obj: Json): { group: string; resource: string; namespaced: boolean } {
  const kind = KINDS[String(obj.kind)];
  if (!kind) throw new Error(`install: no resource known for kind ${String(obj.kind)}`);
  const apiVersion = String(obj.apiVersion);
  return { group: apiVersion.includes('/') ? apiVersion.split('/')[0]! : '', resource: kind.plural, namespaced: kind.namespaced };
}

/** The REST path of an object (or, without the name, of its collection). */
export function apiPath(obj: Json, withName = true): string {
  const { resource, namespaced } = resourceOf(obj);
  const apiVersion = String(obj.apiVersion);
  const meta = (obj.metadata ?? {}) as Json;
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const ns = namespaced ? `/namespaces/${String(meta.namespace)}` : '';
  return `${base}${ns}/${resource}${withName ? `/${String(meta.name)}` : ''}`;
}

export function describe(obj: Json): string {
  const meta = (obj.metadata ?? {}) as Json;
  return `${String(obj.kind)} ${typeof meta.namespace === 'string' ? `${meta.namespace}/` : ''}${String(meta.name)}`;
}
