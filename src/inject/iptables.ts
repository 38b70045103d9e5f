/**
 * The transparent-mode redirect of an injected pod: which inbound ports
 * bypass the sidecar (from the Services that select the pod), and the
 * iptables script the `trellis-iptables` init container runs.
 */
import { INBOUND_PASSTHROUGH_SOURCE, INBOUND_PORT, OUTBOUND_PORT, PROXY_PORTS, PROXY_UID, type InjectOptions, type Json } from './options.ts';

/** One pod (template) and the Services of the same input that may select it. */
export interface InboundContext {
  /** "Kind ns/name", for warnings */
  workload: string;
  namespace: string | undefined;
  labels: Record<string, string>;
  spec: Json;
  services: readonly Json[];
}

/**
 * The inbound ports that must not reach the sidecar: every inbound
 * connection is redirected to its `inbound` listener (one filter chain per
 * targetPort of the pod's service ports, HTTP and TCP alike, wherever the
 * Service is defined; any other port is passed through to the application as
 * plain TCP), except --exclude-inbound-ports. The Services in the input that
 * select this pod are read only to warn about targetPorts the sidecar holds.
 */
export function inboundExclusions(pod: InboundContext, o: Pick<InjectOptions, 'excludeInboundPorts'>, warnings: string[]): number[] {
  const { workload, namespace, labels, spec, services } = pod;
  const named = new Map<string, number>();
  for (const c of spec.containers as Json[]) for (const p of (c?.ports ?? []) as Json[]) if (typeof p?.name === 'string' && Number.isInteger(p.containerPort)) named.set(p.name, p.containerPort);
  for (const s of services) {
    const selector = s.spec?.selector as Record<string, string> | undefined;
    const sameNamespace = (s.metadata?.namespace ?? undefined) === namespace;
    if (!selector || Object.keys(selector).length === 0 || !sameNamespace) continue;
    if (!Object.entries(selector).every(([k, v]) => labels[k] === v)) continue;
    for (const p of (s.spec?.ports ?? []) as Json[]) {
      if ((p.protocol ?? 'TCP') !== 'TCP' || !Number.isInteger(p.port)) continue;
      const from = `Service ${s.metadata?.name} port ${p.port}`;
      const target = p.targetPort === undefined ? p.port : typeof p.targetPort === 'number' ? p.targetPort : named.get(String(p.targetPort));
      if (target === undefined) {
        warnings.push(`${workload}: ${from}: targetPort "${p.targetPort}" names no container port of the pod`);
        continue;
      }
      if (PROXY_PORTS.includes(target)) {
        warnings.push(`${workload}: ${from} has targetPort ${target}, which the sidecar holds (${PROXY_PORTS.join(', ')}): the application cannot serve it`);
        continue;
      }
    }
  }
  return [...new Set(o.excludeInboundPorts)].sort((a, b) => a - b);
}

export interface IptablesPlan {
  /** Inbound ports not redirected (besides the sidecar's own). */
  excludeInboundPorts: readonly number[];
  xdsPort: number;
  /** Outbound ports and CIDRs not redirected. */
  excludePorts: readonly number[];
  excludeCidrs: readonly string[];
}

/**
 * The redirect, as a shell script for the init container: one
 * iptables-restore transaction on the nat table (IPv4). Outbound: every TCP
 * connection the pod opens goes to the sidecar's outbound listener (15001,
 * original_dst), except the sidecar's own (uid 1337: those to its own pod's
 * address go to its inbound listener, but for the inbound passthrough's,
 * from INBOUND_PASSTHROUGH_SOURCE), loopback, DNS over TCP,
 * the xDS port and what --exclude-outbound-* name. Inbound: every TCP
 * connection to the pod goes to the sidecar's inbound listener (15006,
 * original_dst, one filter chain per targetPort), except from the node
 * (HOST_IP: kubelet probes), to the sidecar's own ports and to the excluded
 * ports.
 */
export function iptablesScript(p: IptablesPlan): string {
  const lines = [
    '*nat',
    ':TRELLIS_INBOUND - [0:0]',
    ':TRELLIS_OUTPUT - [0:0]',
    '-A PREROUTING -p tcp -j TRELLIS_INBOUND',
    '-A OUTPUT -p tcp -j TRELLIS_OUTPUT',
    ...[...new Set([...PROXY_PORTS, ...p.excludeInboundPorts])].map((port) => `-A TRELLIS_INBOUND -p tcp --dport ${port} -j RETURN`),
    `-A TRELLIS_INBOUND -p tcp -j REDIRECT --to-ports ${INBOUND_PORT}`,
    // The sidecar calling its own pod (a Service whose endpoint is this pod) goes through its
    // inbound listener: left alone, its mTLS would reach the application raw (TLS bytes on a
    // plaintext port). The inbound passthrough's own hop leaves from its source and is let through.
    `-A TRELLIS_OUTPUT -o lo -s ${INBOUND_PASSTHROUGH_SOURCE}/32 -j RETURN`,
    `-A TRELLIS_OUTPUT -p tcp -o lo ! -d 127.0.0.0/8 -m owner --uid-owner ${PROXY_UID} -j REDIRECT --to-ports ${INBOUND_PORT}`,
    `-A TRELLIS_OUTPUT -m owner --uid-owner ${PROXY_UID} -j RETURN`,
    '-A TRELLIS_OUTPUT -o lo -j RETURN',
    '-A TRELLIS_OUTPUT -d 127.0.0.0/8 -j RETURN',
    ...[...new Set([53, p.xdsPort, ...p.excludePorts])].map((port) => `-A TRELLIS_OUTPUT -p tcp --dport ${port} -j RETURN`),
    ...p.excludeCidrs.map((cidr) => `-A TRELLIS_OUTPUT -d ${cidr} -j RETURN`),
    `-A TRELLIS_OUTPUT -p tcp -j REDIRECT --to-ports ${OUTBOUND_PORT}`,
    'COMMIT',
  ];
  const echo = (l: string) => `  echo '${l}'`;
  const at = lines.indexOf('-A OUTPUT -p tcp -j TRELLIS_OUTPUT') + 1;
  return [
    'set -eu',
    // A restarted init container finds its rules in place (the pod's network namespace outlives it).
    'if iptables -t nat -C OUTPUT -p tcp -j TRELLIS_OUTPUT 2>/dev/null; then echo "trellis: redirect already installed"; exit 0; fi',
    '{',
    ...lines.slice(0, at).map(echo),
    // The node's address is known only at run time: its probes reach the application directly.
    '  case "${HOST_IP:-}" in *.*) echo "-A TRELLIS_INBOUND -s ${HOST_IP}/32 -j RETURN" ;; esac',
    ...lines.slice(at).map(echo),
    '} > "${TMPDIR:-/tmp}/trellis.rules"',
    'iptables-restore --noflush < "${TMPDIR:-/tmp}/trellis.rules"',
    'iptables -t nat -S',
    '',
  ].join('\n');
}
