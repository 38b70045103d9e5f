/**
 * Test fixtures of Trellis gateways, as an operator writes them: a CA and a
 * server certificate made by the OpenSSL CLI (an independent maker, as
 * src/ca/testkit.ts uses it), the kubernetes.io/tls Secret holding them, and
 * a GatewayClass of Trellis's with a Gateway of an HTTP and an HTTPS
 * listener. Used by tests only.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TRELLIS_CONTROLLER } from './kinds/gateway-common.ts';

export interface TlsPair {
  /** The server certificate (PEM), signed by `caPem`. */
  certificatePem: string;
  privateKeyPem: string;
  caPem: string;
}

const cache = new Map<string, TlsPair>();

/** A fresh (per process, per name list) CA and an ECDSA P-256 leaf for `hosts`, valid one day. */
export function tlsPair(hosts: readonly string[]): TlsPair {
  const key = hosts.join(',');
  const hit = cache.get(key);
  if (hit) return hit;
  const dir = mkdtempSync(join(tmpdir(), 'trellis-tls-'));
  try {
    const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=trellis test CA', '-days', '1']);
    run(['req', ...ec, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', `/CN=${hosts[0]}`]);
    writeFileSync(join(dir, 'ext'), `subjectAltName=${hosts.map((h) => `DNS:${h}`).join(',')}\n`);
    run(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '1', '-extfile', 'ext']);
    const pair = { certificatePem: readFileSync(join(dir, 'leaf.pem'), 'utf8'), privateKeyPem: readFileSync(join(dir, 'leaf.key'), 'utf8'), caPem: readFileSync(join(dir, 'ca.pem'), 'utf8') };
    cache.set(key, pair);
    return pair;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A kubernetes.io/tls Secret as YAML, its values base64 in `data` as `kubectl create secret tls` writes them. */
export function tlsSecretYaml(namespace: string, name: string, pair: Pick<TlsPair, 'certificatePem' | 'privateKeyPem'>): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return `apiVersion: v1
kind: Secret
metadata: {name: ${name}, namespace: ${namespace}}
type: kubernetes.io/tls
data:
  tls.crt: ${b64(pair.certificatePem)}
  tls.key: ${b64(pair.privateKeyPem)}
---
`;
}

/** Trellis's GatewayClass `trellis` (controllerName TRELLIS_CONTROLLER), as YAML without a trailing newline: the one fixture of it for tests. */
export const TRELLIS_GATEWAY_CLASS_YAML = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: trellis}
spec: {controllerName: ${TRELLIS_CONTROLLER}}`;

/** Trellis's GatewayClass `trellis` and a Gateway of it: an HTTP listener `http` and an HTTPS one `https` for `hostname`, its certificate the Secret `secret`. */
export function trellisGatewayYaml(o: { namespace: string; name?: string; httpPort: number; httpsPort: number; hostname: string; secret: string }): string {
  return `${TRELLIS_GATEWAY_CLASS_YAML}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${o.name ?? 'edge'}, namespace: ${o.namespace}}
spec:
  gatewayClassName: trellis
  listeners:
  - {name: http, port: ${o.httpPort}, protocol: HTTP}
  - name: https
    port: ${o.httpsPort}
    protocol: HTTPS
    hostname: "${o.hostname}"
    tls: {mode: Terminate, certificateRefs: [{name: ${o.secret}}]}
---
`;
}
