/**
 * `trellis inject` (issue 6): table-driven assertions on the rewritten
 * objects for every workload kind, the redirect derived from the Services
 * in the input, what is left alone, idempotence; the CLI on stdin and files;
 * and `trellis bootstrap --token-file` (what the injected init container runs)
 * writing a bootstrap the real Envoy accepts.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { clusterBootstrapYaml } from '../../src/runtime/bootstrap.ts';
import { findEnvoy } from '../../src/runtime/envoy-bin.ts';
import { injectManifest, splitDocuments } from '../../src/inject/manifest.ts';
import { DEFAULT_INJECT_OPTIONS, ENVOY_IMAGE, NAMES, type InjectOptions } from '../../src/inject/options.ts';
import { SA_TOKEN_METADATA_KEY } from '../../src/identity/token-review.ts';

const REPO = path.resolve(import.meta.dirname, '../..');
const TRELLIS = path.join(REPO, 'bin/trellis.js');
const CA = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
const opts = (o: Partial<InjectOptions> = {}): InjectOptions => ({ ...DEFAULT_INJECT_OPTIONS, caPem: CA, ...o });
type Json = Record<string, any>;
const docs = (yaml: string): Json[] => parseAllDocuments(yaml).map((d) => d.toJS() as Json);
const tmp = mkdtempSync(path.join(tmpdir(), 'trellis-inject-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const podSpec = `
      serviceAccountName: web
      containers:
      - name: app   # the application
        image: registry.example/web:1
        ports: [{name: http, containerPort: 8080}]`;
const template = `
    metadata:
      labels: {app: web}
    spec:${podSpec}`;
const indent = (s: string, n: number) => s.replace(/\n/g, `\n${' '.repeat(n)}`);

const KINDS: Array<{ kind: string; yaml: string; pod: string[] }> = [
  { kind: 'Pod', yaml: `apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web}}\nspec:${podSpec.replace(/\n {4}/g, '\n')}`, pod: [] },
  { kind: 'Deployment', yaml: `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:${template}`, pod: ['spec', 'template'] },
  { kind: 'StatefulSet', yaml: `apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web, namespace: shop}\nspec:\n  serviceName: web\n  selector: {matchLabels: {app: web}}\n  template:${template}`, pod: ['spec', 'template'] },
  { kind: 'DaemonSet', yaml: `apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:${template}`, pod: ['spec', 'template'] },
  { kind: 'ReplicaSet', yaml: `apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:${template}`, pod: ['spec', 'template'] },
  { kind: 'Job', yaml: `apiVersion: batch/v1\nkind: Job\nmetadata: {name: web, namespace: shop}\nspec:\n  template:${template.replace('containers:', 'restartPolicy: Never\n      containers:')}`, pod: ['spec', 'template'] },
  { kind: 'CronJob', yaml: `apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: web, namespace: shop}\nspec:\n  schedule: "* * * * *"\n  jobTemplate:\n    spec:\n      template:${indent(template.replace('containers:', 'restartPolicy: Never\n      containers:'), 4)}`, pod: ['spec', 'jobTemplate', 'spec', 'template'] },
];

const SERVICE = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
`;

const at = (o: Json, p: string[]) => p.reduce((v, k) => v?.[k], o);
/** The pod (metadata + spec) of an object, wherever its kind keeps it. */
const podOf = (o: Json, p: string[]) => (p.length === 0 ? o : at(o, p));
const names = (list: Json[] | undefined) => (list ?? []).map((c) => c.name);

describe('trellis inject: every workload kind', () => {
  it.each(KINDS)('$kind: native sidecar, bootstrap, token volume and redirect; the application untouched', ({ yaml, pod: p }) => {
    const r = injectManifest(`${yaml}\n---\n${SERVICE}`, opts());
    expect(r.injected).toHaveLength(1);
    expect(r.warnings).toEqual([]);
    const [obj, svc] = docs(r.yaml);
    const pod = podOf(obj!, p);
    expect(pod.metadata.annotations).toMatchObject({ 'trellis.io/injected': 'true', 'kubectl.kubernetes.io/default-container': 'app' });
    expect(pod.metadata.labels).toEqual({ app: 'web' });
    // Order: the redirect, the bootstrap, then Envoy as a native sidecar (up before the app and any init container of the app).
    expect(names(pod.spec.initContainers)).toEqual([NAMES.iptables, NAMES.bootstrap, NAMES.proxy]);
    expect(pod.spec.containers).toEqual([{ name: 'app', image: 'registry.example/web:1', ports: [{ name: 'http', containerPort: 8080 }] }]);
    const [iptables, bootstrap, proxy] = pod.spec.initContainers as Json[];
    expect(proxy).toMatchObject({ image: ENVOY_IMAGE, restartPolicy: 'Always', command: ['envoy'] });
    expect(proxy!.args.slice(0, 2)).toEqual(['-c', '/etc/trellis/envoy.yaml']);
    expect(proxy!.securityContext).toMatchObject({ runAsUser: 1337, runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    // Issue 13: the token too, which Envoy reads again on every ADS stream.
    expect(proxy!.volumeMounts).toEqual([{ name: NAMES.bootstrapVolume, mountPath: '/etc/trellis', readOnly: true }, { name: NAMES.tokenVolume, mountPath: '/var/run/secrets/trellis', readOnly: true }]);
    expect(bootstrap!.args).toEqual(expect.arrayContaining(['bootstrap', '--token-file', '/var/run/secrets/trellis/token', '--mode', 'transparent', '--cluster', 'web', '--out', '/etc/trellis/envoy.yaml']));
    expect(bootstrap!.args).not.toContain('--plaintext');
    expect(bootstrap!.securityContext).toMatchObject({ runAsUser: 1337, capabilities: { drop: ['ALL'] } });
    expect(bootstrap!.env).toEqual([
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'TRELLIS_CA_PEM', value: CA },
    ]);
    expect(names(bootstrap!.volumeMounts)).toEqual([NAMES.tokenVolume, NAMES.bootstrapVolume, NAMES.tmpVolume]);
    // Only the redirect runs as root, with NET_ADMIN and NET_RAW and nothing else.
    expect(iptables!.securityContext).toMatchObject({ runAsUser: 0, capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] }, allowPrivilegeEscalation: false });
    const script = iptables!.command[2] as string;
    // Inbound: everything to the sidecar's one inbound listener (its chains match the targetPort), but its own ports.
    expect(script).toContain("'-A TRELLIS_INBOUND -p tcp -j REDIRECT --to-ports 15006'");
    for (const port of [15000, 15001, 15006]) expect(script).toContain(`'-A TRELLIS_INBOUND -p tcp --dport ${port} -j RETURN'`);
    expect(script).not.toContain('--dport 8080');
    expect(script).toContain("'-A TRELLIS_OUTPUT -m owner --uid-owner 1337 -j RETURN'");
    expect(script).toContain("'-A TRELLIS_OUTPUT -p tcp --dport 18000 -j RETURN'"); // the xDS port
    expect(script).toContain("'-A TRELLIS_OUTPUT -p tcp -j REDIRECT --to-ports 15001'");
    expect(pod.spec.volumes).toEqual([
      { name: NAMES.tokenVolume, projected: { sources: [{ serviceAccountToken: { audience: 'trellis', expirationSeconds: 2592000, path: 'token' } }] } },
      { name: NAMES.bootstrapVolume, emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
      { name: NAMES.tmpVolume, emptyDir: { sizeLimit: '64Mi' } },
    ]);
    // The sidecar binds 15001 and 15006 only, whatever the service ports: no sysctl.
    expect(pod.spec.securityContext).toBeUndefined();
    expect(svc).toEqual(docs(SERVICE)[0]);
  });
});

describe('trellis inject: options and inputs', () => {
  const deployment = KINDS[1]!;
  const pod = (yaml: string) => podOf(docs(yaml)[0]!, deployment.pod);
  const cases: Array<{ name: string; input?: string; o: Partial<InjectOptions>; check: (pod: Json, r: ReturnType<typeof injectManifest>) => void }> = [
    {
      name: 'classic sidecar: Envoy is a container after the application',
      o: { nativeSidecar: false },
      check: (p) => {
        expect(names(p.spec.initContainers)).toEqual([NAMES.iptables, NAMES.bootstrap]);
        expect(names(p.spec.containers)).toEqual(['app', NAMES.proxy]);
        expect(p.spec.containers[1].restartPolicy).toBeUndefined();
      },
    },
    {
      name: 'explicit mode: no redirect',
      o: { mode: 'explicit' },
      check: (p, r) => {
        expect(names(p.spec.initContainers)).toEqual([NAMES.bootstrap, NAMES.proxy]);
        expect(p.spec.initContainers[0].args).toEqual(expect.arrayContaining(['--mode', 'explicit']));
        expect(p.spec.securityContext).toBeUndefined();
        expect(r.warnings).toEqual([]);
      },
    },
    {
      name: 'plaintext: no root in the environment, --plaintext to the bootstrap',
      o: { caPem: undefined },
      check: (p) => {
        const b = p.spec.initContainers[1];
        expect(b.args).toContain('--plaintext');
        expect(names(b.env)).toEqual(['POD_NAME', 'POD_NAMESPACE']);
      },
    },
    {
      name: 'images, audience, expiry, xDS address, exclusions',
      o: { trellisImage: 'reg/trellis:1', envoyImage: 'reg/envoy:1', tokenAudience: 'mesh', tokenExpirationSeconds: 3600, xdsAddress: 'cp.example:9000', excludeOutboundPorts: [5432], excludeOutboundCidrs: ['10.1.0.0/16'], excludeInboundPorts: [9100] },
      check: (p) => {
        const [ipt, b, e] = p.spec.initContainers;
        expect([ipt.image, b.image, e.image]).toEqual(['reg/trellis:1', 'reg/trellis:1', 'reg/envoy:1']);
        expect(p.spec.volumes[0].projected.sources[0].serviceAccountToken).toEqual({ audience: 'mesh', expirationSeconds: 3600, path: 'token' });
        expect(b.args).toEqual(expect.arrayContaining(['--xds-address', 'cp.example:9000']));
        const script = ipt.command[2];
        for (const rule of ['TRELLIS_OUTPUT -p tcp --dport 9000 -j RETURN', 'TRELLIS_OUTPUT -p tcp --dport 5432 -j RETURN', 'TRELLIS_OUTPUT -d 10.1.0.0/16 -j RETURN', 'TRELLIS_INBOUND -p tcp --dport 9100 -j RETURN']) expect(script).toContain(rule);
        expect(script).not.toContain('--dport 18000');
      },
    },
    {
      name: 'a service whose port equals its targetPort is redirected like any other (the sidecar holds 15006, not the port)',
      input: `${deployment.yaml}\n---\n${SERVICE.replace('port: 80, targetPort: http', 'port: 8080, targetPort: 8080')}`,
      o: {},
      check: (p, r) => {
        const script = p.spec.initContainers[0].command[2];
        expect(script).toContain('TRELLIS_INBOUND -p tcp -j REDIRECT --to-ports 15006');
        expect(script).not.toContain('--dport 8080');
        expect(p.spec.securityContext).toBeUndefined();
        expect(r.warnings).toEqual([]);
      },
    },
    {
      name: 'no Service in the input: everything inbound still goes to the sidecar (Trellis knows the cluster\'s Services)',
      input: deployment.yaml,
      o: {},
      check: (p, r) => {
        expect(p.spec.initContainers[0].command[2]).toContain('TRELLIS_INBOUND -p tcp -j REDIRECT --to-ports 15006');
        expect(r.warnings).toEqual([]);
      },
    },
    {
      name: 'issue 11: TCP service ports are redirected to the sidecar like HTTP ones (the mesh proxies them: mTLS, network RBAC)',
      input: [
        deployment.yaml,
        SERVICE,
        SERVICE.replace('name: web,', 'name: web-db,').replace('port: 80, targetPort: http', 'port: 81, targetPort: 5000, appProtocol: tcp'),
        SERVICE.replace('name: web,', 'name: web-tcp,').replace('port: 80, targetPort: http', 'port: 82, targetPort: 8080, appProtocol: tcp'),
        SERVICE.replace('namespace: shop', 'namespace: other').replace('port: 80, targetPort: http', 'port: 83, targetPort: 6000, appProtocol: tcp'),
        SERVICE.replace('{app: web}', '{app: db}').replace('port: 80, targetPort: http', 'port: 84, targetPort: 7000, appProtocol: tcp'),
      ].join('\n---\n'),
      o: {},
      check: (p, r) => {
        const script = p.spec.initContainers[0].command[2];
        for (const port of [5000, 8080, 6000, 7000]) expect(script).not.toContain(`--dport ${port}`);
        expect(script).toContain('TRELLIS_INBOUND -p tcp -j REDIRECT --to-ports 15006');
        expect(r.warnings).toEqual([]);
      },
    },
    {
      name: 'a targetPort the sidecar holds is reported',
      input: `${deployment.yaml}\n---\n${SERVICE.replace('port: 80, targetPort: http', 'port: 80, targetPort: 15001')}`,
      o: {},
      check: (_p, r) => {
        expect(r.warnings.join('\n')).toMatch(/port 80 has targetPort 15001, which the sidecar holds/);
      },
    },
  ];
  it.each(cases)('$name', ({ input, o, check }) => {
    const r = injectManifest(input ?? `${deployment.yaml}\n---\n${SERVICE}`, opts(o));
    expect(r.injected).toEqual(['Deployment shop/web']);
    check(pod(r.yaml), r);
  });

  it('injecting twice changes nothing; comments and untouched documents are kept as written', () => {
    const input = `# the shop\n${KINDS[1]!.yaml}\n---\n${SERVICE}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}   # odd  spacing kept\ndata: {a: "1"}\n`;
    const once = injectManifest(input, opts());
    const twice = injectManifest(once.yaml, opts());
    expect(twice.yaml).toBe(once.yaml);
    expect(twice.injected).toEqual([]);
    expect(twice.skipped).toEqual([{ workload: 'Deployment shop/web', reason: 'already injected' }]);
    expect(once.yaml).toContain('# the shop');
    expect(once.yaml).toContain('# the application');
    expect(once.yaml).toContain(`${SERVICE}---\n`);
    expect(once.yaml).toContain('metadata: {name: c}   # odd  spacing kept');
    expect(splitDocuments(once.yaml)).toHaveLength(3);
  });

  it.each([
    { why: 'opted out', yaml: KINDS[0]!.yaml.replace('labels: {app: web}', 'labels: {app: web}, annotations: {trellis.io/inject: "false"}'), reason: 'annotation trellis.io/inject: "false"' },
    { why: 'hostNetwork', yaml: KINDS[0]!.yaml.replace('serviceAccountName: web', 'hostNetwork: true\n  serviceAccountName: web'), reason: "hostNetwork: the redirect would rewrite the node's own traffic" },
    { why: 'no containers', yaml: 'apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {}\n', reason: 'no pod spec with containers' },
  ])('left alone: $why', ({ yaml, reason }) => {
    const r = injectManifest(yaml, opts());
    expect(r.injected).toEqual([]);
    expect(r.skipped[0]!.reason).toBe(reason);
    expect(r.yaml.trim()).toBe(yaml.trim());
  });

  it.each([
    { why: 'opted out by label', yaml: KINDS[0]!.yaml.replace('labels: {app: web}', 'labels: {app: web, trellis.io/inject: disabled}'), reason: 'label trellis.io/inject: "disabled"' },
    { why: 'a container named like the sidecar (issue 13)', yaml: KINDS[0]!.yaml.replace('name: app   # the application', 'name: trellis-proxy'), reason: 'it has a container named "trellis-proxy", a name the Trellis sidecar uses, but no trellis.io/injected annotation: rename it, or opt the pod out with the label trellis.io/inject: disabled' },
  ])('left alone, with the reason: $why', ({ yaml, reason }) => {
    const r = injectManifest(yaml, opts());
    expect(r.skipped).toEqual([{ workload: 'Pod shop/web-1', reason }]);
    expect(r.yaml.trim()).toBe(yaml.trim());
  });

  it('issue 13: the override annotations of the webhook apply to trellis inject too (one implementation)', () => {
    const annotated = KINDS[1]!.yaml.replace('labels: {app: web}', 'labels: {app: web}\n      annotations: {trellis.io/exclude-outbound-ports: "5432", trellis.io/proxy-memory: 96Mi}');
    const p = podOf(docs(injectManifest(annotated, opts()).yaml)[0]!, KINDS[1]!.pod);
    expect(p.spec.initContainers[0].command[2]).toContain('--dport 5432 -j RETURN');
    expect(p.spec.initContainers[2].resources.requests).toEqual({ cpu: '50m', memory: '96Mi' });
    const explicit = KINDS[1]!.yaml.replace('labels: {app: web}', 'labels: {app: web}\n      annotations: {trellis.io/interception-mode: explicit}');
    expect(names(podOf(docs(injectManifest(explicit, opts()).yaml)[0]!, KINDS[1]!.pod).spec.initContainers)).toEqual([NAMES.bootstrap, NAMES.proxy]);
    const bad = KINDS[1]!.yaml.replace('labels: {app: web}', 'labels: {app: web}\n      annotations: {trellis.io/proxy-cpu: lots}');
    expect(() => injectManifest(bad, opts())).toThrow('Deployment shop/web: annotation trellis.io/proxy-cpu: "lots" is not a Kubernetes quantity (e.g. 100m, 128Mi)');
  });

  it('existing init containers, volumes and sysctls are kept, after and beside the sidecar\'s', () => {
    const yaml = KINDS[0]!.yaml.replace('serviceAccountName: web', [
      'serviceAccountName: web',
      'securityContext: {sysctls: [{name: net.ipv4.tcp_syncookies, value: "1"}]}',
      'initContainers: [{name: migrate, image: m}]',
      'volumes: [{name: data, emptyDir: {}}]',
    ].join('\n  '));
    const p = docs(injectManifest(`${yaml}\n---\n${SERVICE}`, opts()).yaml)[0]!;
    expect(names(p.spec.initContainers)).toEqual([NAMES.iptables, NAMES.bootstrap, NAMES.proxy, 'migrate']);
    expect(names(p.spec.volumes)).toEqual(['data', NAMES.tokenVolume, NAMES.bootstrapVolume, NAMES.tmpVolume]);
    expect(p.spec.securityContext.sysctls.map((s: Json) => s.name)).toEqual(['net.ipv4.tcp_syncookies']);
  });
});

function run(args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TRELLIS, ...args], { cwd: REPO, env: { ...process.env, TRELLIS_LOG_LEVEL: 'warn' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

describe('the CLI', () => {
  it('reads stdin, writes stdout, reports on stderr; -f files and --out', async () => {
    const viaStdin = await run(['inject', '--plaintext'], `${KINDS[1]!.yaml}\n---\n${SERVICE}`);
    expect(viaStdin.code).toBe(0);
    expect(viaStdin.stderr).toContain('Deployment shop/web: sidecar added');
    expect(names(podOf(docs(viaStdin.stdout)[0]!, KINDS[1]!.pod).spec.initContainers)).toEqual([NAMES.iptables, NAMES.bootstrap, NAMES.proxy]);

    const [wl, svc, ca, out] = ['w.yaml', 's.yaml', 'ca.crt', 'out.yaml'].map((f) => path.join(tmp, f));
    writeFileSync(wl!, KINDS[1]!.yaml);
    writeFileSync(svc!, SERVICE);
    writeFileSync(ca!, CA);
    const viaFiles = await run(['inject', '-f', wl!, '-f', svc!, '--ca-file', ca!, '--out', out!, '--quiet']);
    expect(viaFiles).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const written = docs(readFileSync(out!, 'utf8'));
    expect(written.map((d) => d.kind)).toEqual(['Deployment', 'Service']);
    expect(written[0]!.spec.template.spec.initContainers[1].env[2]).toEqual({ name: 'TRELLIS_CA_PEM', value: CA });
  });

  it.each([
    { args: ['inject'], message: '--ca-file ROOT.crt is required' },
    { args: ['inject', '--plaintext', '-f', '/nonexistent.yaml'], message: '/nonexistent.yaml: no such file' },
    { args: ['inject', '--plaintext', '--mode', 'sideways'], message: '--mode sideways: expected transparent or explicit' },
    { args: ['inject', '--plaintext', '--token-expiration', '60'], message: 'at least 600' },
    { args: ['inject', '--plaintext', '--exclude-inbound-ports', '80,http'], message: '--exclude-inbound-ports http: not a port' },
  ])('usage error: $message', async ({ args, message }) => {
    const r = await run(args, KINDS[0]!.yaml);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });
});

describe('trellis bootstrap --token-file (the injected init container)', () => {
  // A JWT-shaped token: Envoy only carries it.
  const token = `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.${Buffer.from('{"sub":"system:serviceaccount:shop:web"}').toString('base64url')}.c2ln`;

  it('the pod is the node, Envoy reads its token from the file as `authorization: Bearer` on every stream (issue 13), and accepts the bootstrap', async () => {
    const tokenFile = path.join(tmp, 'token');
    const out = path.join(tmp, 'envoy.yaml');
    const caFile = path.join(tmp, 'root.crt');
    writeFileSync(tokenFile, `${token}\n`);
    // A real certificate: Envoy parses the trusted CA.
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', path.join(tmp, 'root.key'), '-out', caFile, '-days', '1', '-subj', '/CN=root']);
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [TRELLIS, 'bootstrap', '--token-file', tokenFile, '--mode', 'transparent', '--xds-address', 'trellis.trellis-system.svc:18000', '--cluster', 'web', '--out', out], {
        cwd: REPO,
        env: { ...process.env, POD_NAME: 'web-7d9c8b6f5-x2x9q', POD_NAMESPACE: 'shop', TRELLIS_CA_PEM: readFileSync(caFile, 'utf8') },
      });
      let stderr = '';
      child.stderr.on('data', (b) => (stderr += b));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(r).toEqual({ code: 0, stderr: '' });
    const b = parse(readFileSync(out, 'utf8')) as Json;
    expect(b.node).toMatchObject({ id: 'shop/web-7d9c8b6f5-x2x9q', cluster: 'web', metadata: { 'trellis.workload': 'shop/web-7d9c8b6f5-x2x9q', 'trellis.mode': 'transparent', 'trellis.outbound_address': '0.0.0.0:15001' } });
    const grpcService = b.dynamic_resources.ads_config.grpc_services[0];
    expect(grpcService.initial_metadata).toBeUndefined();
    expect(readFileSync(out, 'utf8')).not.toContain(token);
    expect(grpcService.google_grpc.target_uri).toBe('trellis.trellis-system.svc:18000');
    expect(grpcService.google_grpc.call_credentials[0].from_plugin.typed_config).toMatchObject({ secret_data: { filename: tokenFile }, header_key: 'authorization', header_prefix: 'Bearer ' });
    expect(SA_TOKEN_METADATA_KEY).toBe('authorization'); // what the TokenReviewVerifier reads
    expect(grpcService.google_grpc.channel_credentials.ssl_credentials.root_certs.inline_string).toBe(readFileSync(caFile, 'utf8'));
    // The real Envoy validates it (the pinned version of the sidecar image).
    const { stdout } = await promisify(execFile)(findEnvoy(), ['--mode', 'validate', '-c', out, '--disable-hot-restart', '--log-level', 'error'], { timeout: 30_000 });
    expect(stdout).toContain('OK');
  });

  it.each([
    { env: { TRELLIS_CA_PEM: CA }, args: [], message: 'POD_NAMESPACE and POD_NAME' },
    { env: { POD_NAME: 'p', POD_NAMESPACE: 'n' }, args: [], message: '--ca-file (the mesh root, PEM) or TRELLIS_CA_PEM is required' },
    { env: { POD_NAME: 'p', POD_NAMESPACE: 'n', TRELLIS_CA_PEM: CA }, args: ['--token-file', '/nonexistent'], message: 'ENOENT' },
  ])('refuses: $message', async ({ env, args, message }) => {
    const tokenFile = path.join(tmp, 'token2');
    writeFileSync(tokenFile, token);
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !['POD_NAME', 'POD_NAMESPACE', 'TRELLIS_CA_PEM'].includes(k)));
      const child = spawn(process.execPath, [TRELLIS, 'bootstrap', '--token-file', tokenFile, ...args], { cwd: REPO, env: { ...clean, ...env } });
      let stderr = '';
      child.stderr.on('data', (b) => (stderr += b));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(message);
  });

  it('clusterBootstrapYaml refuses a node id that is not ns/pod and a token that is not a JWT', async () => {
    const tokenFile = path.join(tmp, 'token3');
    writeFileSync(tokenFile, 'not a jwt');
    const base = { tokenFile, trustDomain: 'cluster.local', mode: 'transparent' as const, xdsAddress: 'x:1', adminAddress: '127.0.0.1:15000' };
    await expect(clusterBootstrapYaml({ ...base, nodeId: 'pod.ns' })).rejects.toThrow('expected namespace/pod');
    await expect(clusterBootstrapYaml({ ...base, nodeId: 'ns/pod' })).rejects.toThrow('not a service-account token');
  });
});
