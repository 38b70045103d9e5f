/**
 * deploy/kubernetes and deploy/crds, read as YAML (no cluster needed; the
 * kube tests also dry-run them against a real API server): the Deployment's
 * shape, least-privilege RBAC, and CRDs that match what the Kubernetes source
 * watches and writes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { clusterManifests, RATELIMIT_CONFIGMAP } from '../../src/cli/install-manifests.ts';
import { RATELIMIT_CONFIGMAP_KEY } from '../../src/runtime/ratelimit-configmap.ts';
import { WATCHED } from '../../src/sources/kubernetes/resources.ts';

type Json = Record<string, any>; // parsed manifests: tests walk them freely
const ROOT = path.resolve(import.meta.dirname, '../..');

function docs(dir: string): Json[] {
  return readdirSync(path.join(ROOT, dir)).filter((f) => f.endsWith('.yaml')).sort().flatMap((f) =>
    parseAllDocuments(readFileSync(path.join(ROOT, dir, f), 'utf8')).map((d) => {
      expect(d.errors, `${dir}/${f}`).toEqual([]);
      return d.toJSON() as Json;
    }));
}

const manifests = docs('deploy/kubernetes');
const crds = docs('deploy/crds');
const one = (kind: string) => {
  const found = manifests.filter((m) => m.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!;
};

describe('deploy/kubernetes', () => {
  it('has the Namespace, ServiceAccount, RBAC, Deployment, Service and injection webhook, all in trellis-system', () => {
    expect(manifests.map((m) => m.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'MutatingWebhookConfiguration', 'Namespace', 'Role', 'RoleBinding', 'Service', 'ServiceAccount']);
    for (const m of manifests.filter((x) => !['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration'].includes(x.kind))) expect(m.metadata.namespace).toBe('trellis-system');
  });

  it('Deployment: 2 replicas of serve --source kubernetes, probes on /healthz and /readyz, resource requests', () => {
    const d = one('Deployment');
    expect(d.spec.replicas).toBe(2);
    const pod = d.spec.template.spec;
    expect(pod.serviceAccountName).toBe(one('ServiceAccount').metadata.name);
    const c = pod.containers.find((x: Json) => x.name === 'trellis');
    expect(c.args.slice(0, 3)).toEqual(['serve', '--source', 'kubernetes']);
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    for (const x of [...pod.containers, ...(pod.initContainers ?? [])]) {
      expect(x.resources.requests.cpu, x.name).toBeTruthy();
      expect(x.resources.requests.memory, x.name).toBeTruthy();
      expect(x.securityContext.allowPrivilegeEscalation, x.name).toBe(false);
    }
    const admin = c.args[c.args.indexOf('--admin-address') + 1];
    expect(admin).toMatch(/^0\.0\.0\.0:/); // probes come from the kubelet, not loopback
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    // Leader election for the status writer (serve reads these).
    expect(c.env.map((e: Json) => [e.name, e.valueFrom.fieldRef.fieldPath])).toEqual([['POD_NAMESPACE', 'metadata.namespace'], ['POD_NAME', 'metadata.name']]);
  });

  it('Service: xDS and admin ports, selecting the Deployment', () => {
    const s = one('Service');
    const d = one('Deployment');
    expect(s.spec.selector).toEqual(d.spec.selector.matchLabels);
    const ports = Object.fromEntries(s.spec.ports.map((p: Json) => [p.name, p.targetPort]));
    const container = Object.fromEntries(d.spec.template.spec.containers[0].ports.map((p: Json) => [p.name, p.containerPort]));
    expect(Object.keys(ports).sort()).toEqual(['grpc-xds', 'http-admin', 'https-webhook']);
    for (const target of Object.values(ports)) expect(container[target as string]).toBeDefined();
  });

  it('RBAC is least privilege: reads the watched kinds, patches only intents\' status, reviews tokens, nothing else', () => {
    const rules = one('ClusterRole').rules as Json[];
    const grants = rules.flatMap((r) => r.apiGroups.flatMap((g: string) => r.resources.flatMap((res: string) => r.verbs.map((v: string) => `${g || 'core'}/${res}:${v}`))));
    const expected = WATCHED.flatMap((w) => {
      const group = w.apiVersion.includes('/') ? w.apiVersion.split('/')[0] : 'core';
      const read = ['get', 'list', 'watch'].map((v) => `${group}/${w.plural}:${v}`);
      return w.intent ? [...read, `${group}/${w.plural}/status:patch`] : read;
    });
    expected.push('authentication.k8s.io/tokenreviews:create'); // proven identity (TokenReviewVerifier)
    // Trellis's own GatewayClasses and Gateways (issue 10): Accepted/Programmed and per-listener status.
    expected.push('gateway.networking.k8s.io/gateways/status:patch', 'gateway.networking.k8s.io/gatewayclasses/status:patch');
    // Issue 10: what runs Trellis's Gateways (runtime/gateway-deployments.ts), made by server-side apply, swept by label.
    expected.push(...['get', 'list', 'create', 'patch', 'delete'].map((v) => `apps/deployments:${v}`), ...['services', 'serviceaccounts'].flatMap((r) => ['create', 'patch', 'delete'].map((v) => `core/${r}:${v}`)));
    // The injection webhook's caBundle, on that one configuration only.
    expected.push('admissionregistration.k8s.io/mutatingwebhookconfigurations:get', 'admissionregistration.k8s.io/mutatingwebhookconfigurations:patch');
    expect(rules.find((r) => r.resources.includes('mutatingwebhookconfigurations'))?.resourceNames).toEqual([one('MutatingWebhookConfiguration').metadata.name]);
    expect(grants.sort()).toEqual(expected.sort());
    expect(grants.some((g) => g.includes('*'))).toBe(false);
    for (const [binding, role] of [['ClusterRoleBinding', 'ClusterRole'], ['RoleBinding', 'Role']] as const) {
      expect(one(binding).roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: role, name: one(role).metadata.name });
      expect(one(binding).subjects).toEqual([{ kind: 'ServiceAccount', name: 'trellis', namespace: 'trellis-system' }]);
    }
    // The leader Lease: its own namespace only, and only the one Lease beyond create.
    const lease = (one('Role').rules as Json[]).flatMap((r) => r.verbs.map((v: string) => `${r.apiGroups[0]}/${r.resources[0]}:${v}${r.resourceNames ? `@${r.resourceNames.join()}` : ''}`));
    expect(lease.sort()).toEqual(['coordination.k8s.io/leases:create', 'coordination.k8s.io/leases:get@trellis-status-writer', 'coordination.k8s.io/leases:update@trellis-status-writer']);
  });
});

describe('deploy/kubernetes: the injection webhook (issue 13)', () => {
  const hook = () => one('MutatingWebhookConfiguration');
  it('fails closed (Fail) yet never reaches kube-system or Trellis\'s own namespace; pods and CREATE only', () => {
    const system = ['kube-system', 'kube-public', 'kube-node-lease', 'trellis-system'];
    expect(hook().webhooks).toHaveLength(2);
    for (const w of hook().webhooks as Json[]) {
      expect(w.failurePolicy, w.name).toBe('Fail');
      expect(w.admissionReviewVersions).toEqual(['v1']);
      expect(w.sideEffects).toBe('None');
      expect(w.rules).toEqual([{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }]);
      expect(w.namespaceSelector.matchExpressions).toContainEqual({ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: system });
      // Every webhook needs a label: the mesh namespace's, or the pod's own opt-in.
      const ns = (w.namespaceSelector.matchExpressions as Json[]).find((e) => e.key === 'trellis.io/mesh');
      const pod = (w.objectSelector.matchExpressions as Json[]).find((e) => e.key === 'trellis.io/inject');
      expect(ns?.operator === 'In' || pod?.operator === 'In', w.name).toBe(true);
    }
  });

  it('calls the Service port that reaches --webhook-address, at /inject', () => {
    const s = one('Service');
    const c = one('Deployment').spec.template.spec.containers[0];
    const port = s.spec.ports.find((p: Json) => p.name === 'https-webhook');
    for (const w of hook().webhooks as Json[]) {
      expect(w.clientConfig.service).toEqual({ name: s.metadata.name, namespace: s.metadata.namespace, path: '/inject', port: port.port });
    }
    const containerPort = c.ports.find((p: Json) => p.name === port.targetPort).containerPort;
    expect(c.args[c.args.indexOf('--webhook-address') + 1]).toBe(`0.0.0.0:${containerPort}`);
  });
});

describe('deploy/crds', () => {
  it('one CRD per custom kind Trellis watches, at the version it reads, with a status subresource', () => {
    // The Gateway API's CRDs are the official ones, in deploy/crds/gateway-api (test/deploy/gateway-api-crds.test.ts).
    const custom = WATCHED.filter((w) => w.custom && !w.apiVersion.startsWith('gateway.networking.k8s.io/'));
    expect(crds.map((c) => `${c.spec.group}/${c.spec.versions[0].name} ${c.spec.names.kind}`).sort()).toEqual(custom.map((w) => `${w.apiVersion} ${w.kind}`).sort());
    for (const c of crds) {
      const w = custom.find((x) => x.kind === c.spec.names.kind)!;
      expect(c.metadata.name).toBe(`${w.plural}.${c.spec.group}`);
      expect(c.spec.scope).toBe(w.namespaced ? 'Namespaced' : 'Cluster');
      expect(c.spec.versions).toHaveLength(1);
      expect(c.spec.versions[0].subresources).toEqual({ status: {} });
    }
  });

  it('schemas describe their fields and carry the status conditions Trellis writes', () => {
    for (const c of crds) {
      const schema = c.spec.versions[0].schema.openAPIV3Schema;
      expect(schema.description, c.metadata.name).toBeTruthy();
      const undocumented: string[] = [];
      const walk = (s: Json, at: string) => {
        for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, Json>)) {
          if (at === '' && ['apiVersion', 'kind', 'metadata'].includes(k)) continue;
          if (!v.description && (v.properties || at.split('.').length < 3)) undocumented.push(`${at}${k}`);
          walk(v, `${at}${k}.`);
          if (v.items) walk(v.items, `${at}${k}[].`);
        }
      };
      walk(schema.properties.spec, 'spec.');
      expect(schema.properties.spec.description ?? schema.description).toBeTruthy();
      const cond = schema.properties.status.properties.conditions.items;
      expect(cond.required.sort()).toEqual(['lastTransitionTime', 'message', 'reason', 'status', 'type']);
      expect(undocumented.filter((u) => !/\.(kind|name|namespace)$/.test(u)), c.metadata.name).toEqual([]);
    }
  });
});

describe('deploy/kubernetes/ratelimit (issue 15: `trellis install --rate-limit`)', () => {
  const rl = docs('deploy/kubernetes/ratelimit');
  const find = (kind: string, name: string) => rl.find((m) => m.kind === kind && m.metadata.name === name)!;

  it('the service mounts the ConfigMap Trellis keeps where its RUNTIME_* settings read it, and watches the kubelet\'s swap', () => {
    const cm = find('ConfigMap', 'trellis-ratelimit');
    expect(Object.keys(cm.data)).toEqual([RATELIMIT_CONFIGMAP_KEY]);
    const pod = find('Deployment', 'trellis-ratelimit').spec.template.spec;
    const c = pod.containers[0];
    const env = Object.fromEntries(c.env.map((e: Json) => [e.name, e.value]));
    const volume = pod.volumes.find((v: Json) => v.configMap?.name === cm.metadata.name);
    const mount = c.volumeMounts.find((m: Json) => m.name === volume.name);
    expect(mount.mountPath).toBe(`${env.RUNTIME_ROOT}/${env.RUNTIME_SUBDIRECTORY}/${env.RUNTIME_APPDIRECTORY}`);
    expect([env.RUNTIME_WATCH_ROOT, env.RUNTIME_IGNOREDOTFILES]).toEqual(['false', 'true']);
    // Redis by its Service; the gRPC port the Service exposes.
    expect(env.REDIS_URL).toBe(`${find('Service', 'trellis-redis').metadata.name}:6379`);
    const svc = find('Service', 'trellis-ratelimit');
    expect(svc.spec.ports[0].port).toBe(Number(env.GRPC_PORT));
    expect(svc.spec.selector).toEqual(find('Deployment', 'trellis-ratelimit').spec.selector.matchLabels);
  });

  it('Trellis may get and patch that one ConfigMap, nothing more; install adds --ratelimit-configmap only with --rate-limit', () => {
    const role = find('Role', 'trellis-ratelimit-config');
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['configmaps'], resourceNames: ['trellis-ratelimit'], verbs: ['get', 'patch'] }]);
    expect(find('RoleBinding', 'trellis-ratelimit-config').subjects).toEqual([{ kind: 'ServiceAccount', name: 'trellis', namespace: 'trellis-system' }]);
    const args = (rateLimit: boolean) => (clusterManifests({ namespace: 'trellis-system', rateLimit }).find((o) => o.kind === 'Deployment' && (o.metadata as Json).name === 'trellis') as Json).spec.template.spec.containers[0].args as string[];
    expect(args(true).join(' ')).toContain(`--ratelimit-configmap ${RATELIMIT_CONFIGMAP}`);
    expect(args(false)).not.toContain('--ratelimit-configmap');
    expect(clusterManifests({ namespace: 'trellis-system' }).some((o) => o.kind === 'ConfigMap')).toBe(false);
  });
});

describe('issue 10: install --no-gateway-deployments', () => {
  it('serve is told --gateway-deployments=false, and the ClusterRole loses exactly the writes of Deployments, Services and ServiceAccounts', () => {
    const render = (gatewayDeployments?: boolean) => clusterManifests({ namespace: 'trellis-system', ...(gatewayDeployments === undefined ? {} : { gatewayDeployments }) });
    const serveArgs = (objs: Json[]) => (objs.find((o) => o.kind === 'Deployment' && (o.metadata as Json).name === 'trellis') as Json).spec.template.spec.containers[0].args as string[];
    const grants = (objs: Json[]) => ((objs.find((o) => o.kind === 'ClusterRole') as Json).rules as Json[]).flatMap((r) => r.apiGroups.flatMap((g: string) => r.resources.flatMap((res: string) => r.verbs.map((v: string) => `${g || 'core'}/${res}:${v}`))));
    expect(serveArgs(render())).not.toContain('--gateway-deployments=false');
    expect(serveArgs(render(false))).toContain('--gateway-deployments=false');
    const dropped = grants(render()).filter((g) => !grants(render(false)).includes(g));
    expect(dropped.sort()).toEqual([
      ...['create', 'delete', 'get', 'list', 'patch'].map((v) => `apps/deployments:${v}`),
      ...['create', 'delete', 'patch'].map((v) => `core/serviceaccounts:${v}`),
      ...['create', 'delete', 'patch'].map((v) => `core/services:${v}`),
    ].sort());
    // Reading Services and ServiceAccounts (the mesh's own) is kept.
    expect(grants(render(false))).toEqual(expect.arrayContaining(['core/services:watch', 'core/serviceaccounts:list']));
  });
});
