/**
 * trellis.io/v1alpha1 ExternalService: a destination outside the mesh that
 * its workloads may call, by DNS name and port (docs/intents.md "Egress").
 * It gets its own DNS-resolved clusters (`external/<host>:<port>`), the
 * resilience settings of a TrafficPolicy, optional TLS origination (the
 * application speaks HTTP or plaintext TCP, the sidecar TLS checked against
 * this CA bundle), and an allow list of the service accounts that may reach
 * it, enforced by the callers' sidecars.
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { Field } from '../field.ts';
import type { CircuitBreaker, IdentityRef, OutlierDetection, RetryPolicy, Timeouts } from '../types.ts';
import type { KindSpec } from './kind.ts';
import { decodeCircuitBreaker, decodeOutlierDetection, decodeRetries, decodeTimeouts } from './policy-settings.ts';
import { decodeSubject } from './traffic-target.ts';

export type ExternalProtocol = 'HTTP' | 'TLS' | 'TCP';

export interface ExternalPortSpec {
  name?: string;
  /** What the application dials. */
  port: number;
  /** Where the sidecar connects (TLS origination: usually 443); default `port`. */
  targetPort: number;
  protocol: ExternalProtocol;
}

/** TLS origination on the HTTP and TCP ports (a TLS port is the application's own session, passed through). */
export interface ExternalTls {
  caBundlePem: string;
  /** The server name sent; default the host. */
  sni?: string;
  /** The DNS name the server's certificate must carry; default the SNI. */
  subjectAltName?: string;
}

export interface ExternalServiceSpec {
  hosts: string[];
  ports: ExternalPortSpec[];
  /** CIDRs the application's TCP connections to this service go to (transparent mode matches them). */
  addresses: string[];
  tls?: ExternalTls;
  /** undefined: not restricted by the ExternalService (the mesh's authorization mode decides). */
  sources?: Omit<IdentityRef, 'spiffeId'>[];
  timeouts?: Timeouts;
  retries?: RetryPolicy;
  circuitBreaker?: CircuitBreaker;
  outlierDetection?: OutlierDetection;
}

const SPEC_FIELDS = ['hosts', 'ports', 'addresses', 'tls', 'sources', 'timeouts', 'retries', 'circuitBreaker', 'outlierDetection'] as const;
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const HOST_EXPECTED = 'a DNS name of lower-case letters, digits, "-" and ".", such as api.example.com';

/** Why `host` is not a name a sidecar can resolve and match on, or undefined if it is one. */
export function badHost(host: string): string | undefined {
  if (host.startsWith('*')) return 'wildcards are not supported: a sidecar resolves each host by DNS; list each host';
  if (isIP(host)) return 'an IP address is not a host name; write the name the application uses, and the address under spec.addresses';
  if (host.length > 253 || !host.split('.').every((l) => l.length <= 63 && LABEL.test(l))) return `expected ${HOST_EXPECTED}`;
  if (host.endsWith('.svc.cluster.local') || host.endsWith('.svc')) return 'this is a mesh service name; mesh services need no ExternalService';
  return undefined;
}

/** The certificates of a PEM bundle, or why it is not one. */
export function parseCaBundle(pem: string): { count: number } | { error: string } {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) return { error: 'no PEM certificate ("-----BEGIN CERTIFICATE-----" ... "-----END CERTIFICATE-----") in it' };
  for (const [i, b] of blocks.entries()) {
    try {
      const cert = new X509Certificate(b);
      if (!cert.ca) return { error: `certificate ${i + 1} (${cert.subject.replaceAll('\n', ', ')}) is not a CA certificate (basicConstraints CA:FALSE); give the CA that signed the server's certificate` };
    } catch (e) {
      return { error: `certificate ${i + 1} does not parse (${(e as Error).message}); paste the PEM text as it is` };
    }
  }
  return { count: blocks.length };
}

function decodeCidr(f: Field): string | undefined {
  const v = f.string({ expected: 'an IP address or CIDR such as 203.0.113.0/24' });
  if (v === undefined) return undefined;
  const [ip, bits, ...rest] = v.split('/');
  const family = isIP(ip ?? '');
  const max = family === 6 ? 128 : 32;
  const n = bits === undefined ? max : Number(bits);
  if (family === 0 || rest.length > 0 || !Number.isInteger(n) || n < 0 || n > max || (bits !== undefined && !/^\d+$/.test(bits))) {
    f.report('InvalidValue', `"${v}" is not an IP address or CIDR; expected one such as 203.0.113.7 or 203.0.113.0/24`);
    return undefined;
  }
  return bits === undefined ? `${ip}/${max}` : v;
}

/** A DNS name at `f` (optional), reported when it is not one. */
function optionalHost(f: Field): string | undefined {
  if (f.absent) return undefined;
  const v = f.string({ expected: HOST_EXPECTED });
  const why = v === undefined ? undefined : badHost(v);
  if (why) f.report('InvalidValue', `"${v}" is not a host name: ${why}`);
  return why ? undefined : v;
}

/**
 * `spec.tls`: TLS origination, on every HTTP and TCP port of the service (a
 * port that must stay plaintext goes in an ExternalService of its own: same
 * host, another port). A service of TLS ports only has nothing to originate.
 */
function decodeTls(f: Field, ports: readonly ExternalPortSpec[]): ExternalTls | undefined {
  if (f.absent || !f.object({ known: ['caBundle', 'sni', 'subjectAltName'] })) return undefined;
  const pem = f.child('caBundle').string({ required: true, expected: 'the PEM text of the CA certificate(s) the server\'s certificate chains to' });
  const sni = optionalHost(f.child('sni'));
  const subjectAltName = optionalHost(f.child('subjectAltName'));
  if (ports.length > 0 && !ports.some((p) => p.protocol !== 'TLS')) {
    f.report('InvalidValue', 'TLS origination applies to HTTP and TCP ports (the application speaks plaintext, the sidecar TLS); this service has TLS ports only, which carry the application\'s own TLS session untouched. Remove spec.tls, or declare the port HTTP or TCP if the application speaks plaintext');
  }
  if (pem === undefined) return undefined;
  const bundle = parseCaBundle(pem);
  if ('error' in bundle) {
    f.child('caBundle').report('InvalidValue', `not a CA bundle: ${bundle.error}`);
    return undefined;
  }
  return { caBundlePem: pem, ...(sni ? { sni } : {}), ...(subjectAltName ? { subjectAltName } : {}) };
}

export const externalServiceKind: KindSpec<ExternalServiceSpec> = {
  apiVersion: 'trellis.io/v1alpha1',
  kind: 'ExternalService',
  namespaced: true,
  topLevel: ['spec', 'status'],
  nameRule: 'subdomain',
  decode(root, ctx) {
    const spec = root.child('spec');
    if (!spec.object({ required: true, known: SPEC_FIELDS })) return undefined;
    const hosts: string[] = [];
    for (const h of spec.child('hosts').list({ required: true, minItems: 1, expected: 'a list of DNS names such as [api.example.com]' })) {
      const v = h.string({ expected: HOST_EXPECTED });
      if (v === undefined) continue;
      const why = badHost(v);
      if (why) h.report('InvalidValue', `"${v}" is not a host Trellis can route to: ${why}`);
      else if (hosts.includes(v)) h.report('Duplicate', `"${v}" is listed twice`);
      else hosts.push(v);
    }
    const ports: ExternalPortSpec[] = [];
    for (const p of spec.child('ports').list({ required: true, minItems: 1, expected: 'a list of ports such as [{port: 443, protocol: TLS}]' })) {
      if (!p.object({ known: ['name', 'port', 'targetPort', 'protocol'] })) continue;
      const port = p.child('port').integer({ required: true, min: 1, max: 65535, expected: 'a port number (1-65535)' });
      const targetPort = p.child('targetPort').absent ? port : p.child('targetPort').integer({ min: 1, max: 65535, expected: 'a port number (1-65535)' });
      const protocol = p.child('protocol').string({ required: true, oneOf: ['HTTP', 'TLS', 'TCP'] }) as ExternalProtocol | undefined;
      const name = p.child('name').absent ? undefined : p.child('name').string();
      if (port !== undefined && ports.some((q) => q.port === port)) p.child('port').report('Duplicate', `port ${port} is listed twice`);
      else if (port !== undefined && targetPort !== undefined && protocol !== undefined) ports.push({ ...(name ? { name } : {}), port, targetPort, protocol });
    }
    const addresses = spec.child('addresses').absent ? [] : spec.child('addresses').list().flatMap((a) => decodeCidr(a) ?? []);
    const tls = decodeTls(spec.child('tls'), ports);
    if (ports.some((p) => p.protocol === 'TCP') && hosts.length > 1) {
      spec.child('hosts').report('InvalidValue', 'a TCP port carries one host: nothing in a TCP connection says which host was meant. Declare one ExternalService per host');
    }
    let sources: ExternalServiceSpec['sources'];
    if (!spec.child('sources').absent) {
      sources = spec.child('sources').list({ minItems: 1, expected: 'a list of service accounts such as [{kind: ServiceAccount, name: checkout, namespace: shop}]' }).flatMap((s) => {
        const subject = decodeSubject(s, ctx.namespace, false);
        return subject ? [{ namespace: subject.namespace, serviceAccount: subject.name }] : [];
      });
    }
    const timeouts = spec.child('timeouts').absent ? undefined : decodeTimeouts(spec.child('timeouts'));
    const retries = spec.child('retries').absent ? undefined : decodeRetries(spec.child('retries'), { allowBudget: true });
    const circuitBreaker = spec.child('circuitBreaker').absent ? undefined : decodeCircuitBreaker(spec.child('circuitBreaker'));
    const outlierDetection = spec.child('outlierDetection').absent ? undefined : decodeOutlierDetection(spec.child('outlierDetection'));
    if (hosts.length === 0 || ports.length === 0) return undefined;
    return {
      hosts, ports, addresses,
      ...(tls ? { tls } : {}),
      ...(sources ? { sources } : {}),
      ...(timeouts ? { timeouts } : {}),
      ...(retries ? { retries } : {}),
      ...(circuitBreaker ? { circuitBreaker } : {}),
      ...(outlierDetection ? { outlierDetection } : {}),
    };
  },
};
