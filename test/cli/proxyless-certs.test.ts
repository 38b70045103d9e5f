/**
 * `trellis bootstrap --proxyless --cert-dir D` and `trellis workload-certs`
 * (issue 11, gRFC A29): the gRPC bootstrap declares a file_watcher
 * certificate provider reading D, and the files there are the workload's
 * certificate (its SPIFFE ID), key and the mesh trust bundle; --watch keeps
 * rewriting them (here: stopped after the first write).
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bootstrapCommand } from '../../src/cli/bootstrap.ts';
import { workloadCertsCommand } from '../../src/cli/workload-certs.ts';
import { keepWorkloadCertificates } from '../../src/runtime/workload-certs.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'trellis-proxyless-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(path.join(dir, 'mesh.yaml'), `apiVersion: v1
kind: Pod
metadata: {name: greeter-1, namespace: demo}
spec:
  serviceAccountName: greeter
  containers: [{name: app}]
status: {podIP: 127.0.40.5}
`);
const common = ['--workload', 'demo/greeter-1', '--source', `file:${dir}`, '--state-dir', path.join(dir, 'state')];

function captureStdout(run: () => Promise<number>): Promise<string> {
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array) => ((out += String(chunk)), true)) as typeof process.stdout.write;
  return run().finally(() => (process.stdout.write = write)).then(() => out);
}

describe('issue 11: certificate files of a proxyless gRPC workload', () => {
  it('bootstrap --proxyless: a file_watcher provider over the files it wrote, the server listener template, the node metadata', async () => {
    const certDir = path.join(dir, 'certs');
    const json = JSON.parse(await captureStdout(() => bootstrapCommand(['--proxyless', '--cert-dir', certDir, '--xds-address', '127.0.40.1:18001', ...common])));
    expect(json.certificate_providers.trellis).toEqual({
      plugin_name: 'file_watcher',
      config: { certificate_file: `${certDir}/cert.pem`, private_key_file: `${certDir}/key.pem`, ca_certificate_file: `${certDir}/ca.pem`, refresh_interval: '60s' },
    });
    expect(json.server_listener_resource_name_template).toBe('trellis/server?address=%s');
    expect(json.node.metadata).toEqual({ 'trellis.workload': 'demo/greeter-1', 'trellis.certificate_provider': 'trellis' });
    const cert = new X509Certificate(readFileSync(`${certDir}/cert.pem`));
    expect(cert.subjectAltName).toBe('URI:spiffe://cluster.local/ns/demo/sa/greeter');
    expect(cert.verify(new X509Certificate(readFileSync(`${certDir}/ca.pem`)).publicKey)).toBe(true);
    expect(statSync(`${certDir}/key.pem`).mode & 0o777).toBe(0o600);
  });

  it('workload-certs writes a new certificate each time; --watch renews until stopped', async () => {
    const certDir = path.join(dir, 'renewed');
    const out = await captureStdout(() => workloadCertsCommand(['--dir', certDir, ...common]));
    expect(out).toContain('spiffe://cluster.local/ns/demo/sa/greeter');
    const first = readFileSync(`${certDir}/cert.pem`, 'utf8');
    const stop = new AbortController();
    const writes: number[] = [];
    await keepWorkloadCertificates({ stateDir: path.join(dir, 'state'), trustDomain: 'cluster.local', spiffeId: 'spiffe://cluster.local/ns/demo/sa/greeter', dir: certDir, signal: stop.signal, onWrite: (w) => (writes.push(w.renewAt), stop.abort()) });
    expect(writes).toHaveLength(1);
    expect(readFileSync(`${certDir}/cert.pem`, 'utf8')).not.toBe(first);
  });
});
