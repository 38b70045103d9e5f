/**
 * What injection adds to one pod: the init containers (the redirect in
 * transparent mode, then the bootstrap writer), the Envoy sidecar and their
 * volumes, all with the least privilege each needs.
 */
import { UsageError } from '../errors.ts';
import { iptablesScript } from './iptables.ts';
import { PROXY_RESOURCES } from './overrides.ts';
import { ADMIN_PORT, BOOTSTRAP_DIR, BOOTSTRAP_PATH, NAMES, PROXY_UID, TOKEN_DIR, TOKEN_FILE_NAME, TOKEN_PATH, type InjectOptions, type Json } from './options.ts';

export interface SidecarParts {
  /** In order: the redirect (transparent mode), then the bootstrap writer. */
  initContainers: Json[];
  proxy: Json;
  volumes: Json[];
}

const restricted = (uid: number) => ({
  runAsUser: uid,
  runAsGroup: uid,
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
});

/** The port of `--xds-address`: its traffic is never redirected. */
function xdsPortOf(address: string): number {
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  if (!address.includes(':') || !Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`xDS address "${address}": expected host:port`);
  return port;
}

/**
 * The containers and volumes of one pod's sidecar. `excludeInbound`: the
 * inbound ports that bypass it (iptables.ts inboundExclusions); `cluster`:
 * Envoy's service cluster (the pod's app).
 */
export function sidecarParts(o: InjectOptions, excludeInbound: readonly number[], cluster: string): SidecarParts {
  const initContainers: Json[] = [];
  const xdsPort = xdsPortOf(o.xdsAddress);
  if (o.mode === 'transparent') {
    initContainers.push({
      name: NAMES.iptables,
      image: o.trellisImage,
      imagePullPolicy: 'IfNotPresent',
      command: ['sh', '-c', iptablesScript({ excludeInboundPorts: excludeInbound, xdsPort, excludePorts: o.excludeOutboundPorts, excludeCidrs: o.excludeOutboundCidrs })],
      // The node's probes reach the application directly (kubelet does not speak mTLS).
      env: [
        { name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
        { name: 'XTABLES_LOCKFILE', value: '/tmp/xtables.lock' },
      ],
      securityContext: {
        runAsUser: 0,
        runAsGroup: 0,
        runAsNonRoot: false,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] },
      },
      resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
      volumeMounts: [{ name: NAMES.tmpVolume, mountPath: '/tmp' }],
    });
  }
  const args = [
    'bootstrap',
    '--token-file', TOKEN_PATH,
    '--mode', o.mode,
    '--xds-address', o.xdsAddress,
    '--trust-domain', o.trustDomain,
    '--cluster', cluster,
    '--admin-address', `127.0.0.1:${ADMIN_PORT}`,
    '--out', BOOTSTRAP_PATH,
    ...(o.caPem ? [] : ['--plaintext']),
  ];
  initContainers.push(bootstrapContainer(o, args));
  const { name, image, imagePullPolicy, ...rest } = envoyContainer(o);
  // restartPolicy where `trellis inject` has always written it (after the image), so injected manifests do not move.
  const proxy: Json = { name, image, imagePullPolicy, ...(o.nativeSidecar ? { restartPolicy: 'Always' } : {}), ...rest };
  return { initContainers, proxy, volumes: proxyVolumes(o) };
}

/**
 * The init container that writes the bootstrap (`args`: its `trellis
 * bootstrap` command line), shared by sidecars and gateway pods
 * (gateway-deployment.ts): the pod's identity, the mesh root and where the
 * bootstrap goes are the same for both.
 */
export function bootstrapContainer(o: InjectOptions, args: readonly string[]): Json {
  return {
    name: NAMES.bootstrap,
    image: o.trellisImage,
    imagePullPolicy: 'IfNotPresent',
    args: [...args],
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      ...(o.caPem ? [{ name: 'TRELLIS_CA_PEM', value: o.caPem }] : []),
    ],
    // The bootstrap is written 0600 by the proxy's user, who alone reads it.
    securityContext: restricted(PROXY_UID),
    resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '256Mi' } },
    volumeMounts: [
      { name: NAMES.tokenVolume, mountPath: TOKEN_DIR, readOnly: true },
      { name: NAMES.bootstrapVolume, mountPath: BOOTSTRAP_DIR },
      { name: NAMES.tmpVolume, mountPath: '/tmp' },
    ],
  };
}

/** The Envoy container that runs the bootstrap (a sidecar's, or a gateway pod's only container). */
export function envoyContainer(o: InjectOptions): Json {
  return {
    name: NAMES.proxy,
    image: o.envoyImage,
    imagePullPolicy: 'IfNotPresent',
    command: ['envoy'],
    args: ['-c', BOOTSTRAP_PATH, '--disable-hot-restart', '--log-level', 'warn', '--drain-time-s', '5'],
    securityContext: restricted(PROXY_UID),
    resources: o.proxyResources ?? PROXY_RESOURCES,
    // The token too: Envoy reads it again on every ADS stream, so a reconnect
    // presents the one the kubelet rotated in (runtime/bootstrap.ts).
    volumeMounts: [
      { name: NAMES.bootstrapVolume, mountPath: BOOTSTRAP_DIR, readOnly: true },
      { name: NAMES.tokenVolume, mountPath: TOKEN_DIR, readOnly: true },
    ],
  };
}

/** The projected token, the in-memory bootstrap folder and a scratch /tmp. */
export function proxyVolumes(o: InjectOptions): Json[] {
  return [
    {
      name: NAMES.tokenVolume,
      projected: { sources: [{ serviceAccountToken: { audience: o.tokenAudience, expirationSeconds: o.tokenExpirationSeconds, path: TOKEN_FILE_NAME } }] },
    },
    // In memory: with --plaintext the bootstrap carries the token.
    { name: NAMES.bootstrapVolume, emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
    { name: NAMES.tmpVolume, emptyDir: { sizeLimit: '64Mi' } },
  ];
}
