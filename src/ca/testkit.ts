/**
 * Test helpers for the CA: temp state dirs, the OpenSSL CLI as an
 * independent judge of our certificates, and a real TLS handshake between
 * two node:tls endpoints. Used by src/ca/*.test.ts and test/security.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type PeerCertificate, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';

export async function tempDir(prefix = 'trellis-ca-'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

export interface OpensslResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function openssl(args: readonly string[]): Promise<OpensslResult> {
  return new Promise((resolve) => {
    execFile('openssl', args, { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export async function writeFiles(dir: string, files: Record<string, string>): Promise<Record<string, string>> {
  const paths: Record<string, string> = {};
  for (const [name, content] of Object.entries(files)) {
    paths[name] = join(dir, name);
    await writeFile(paths[name]!, content, { mode: 0o600 });
  }
  return paths;
}

/** Makes a self-signed root with `openssl req -x509`; extra args add extensions or change the key. */
export async function opensslRoot(dir: string, name: string, extra: readonly string[] = []): Promise<CaFiles> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  const keyArgs = extra.includes('-newkey') ? [] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  const r = await openssl(['req', '-x509', ...keyArgs, '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '30', '-subj', `/O=Example Corp/CN=${name}`, ...extra]);
  if (r.code !== 0) throw new Error(`openssl req failed: ${r.stderr}`);
  return { certFile, keyFile };
}

export interface CaFiles {
  certFile: string;
  keyFile: string;
}

/**
 * An intermediate CA under `parent`, made the way docs/security.md ("Use your
 * own root") tells operators to: a CSR, then `openssl x509 -req` with an
 * extensions file. `ext` replaces the CA extensions (to make bad ones);
 * `days` may be negative (an expired certificate).
 */
export async function opensslIntermediate(dir: string, name: string, parent: CaFiles, opts: { pathLen?: number; ext?: string; days?: number } = {}): Promise<CaFiles> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const extFile = join(dir, `${name}.ext`);
  const constraints = `basicConstraints=critical,CA:TRUE${opts.pathLen !== undefined ? `,pathlen:${opts.pathLen}` : ''}\nkeyUsage=critical,keyCertSign,cRLSign\n`;
  await writeFile(extFile, `${opts.ext ?? constraints}subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n`);
  const req = await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/O=Example Corp/CN=${name}`]);
  if (req.code !== 0) throw new Error(`openssl req failed: ${req.stderr}`);
  const sign = await openssl(['x509', '-req', '-in', csr, '-CA', parent.certFile, '-CAkey', parent.keyFile, '-CAcreateserial', '-days', String(opts.days ?? 30), '-extfile', extFile, '-out', certFile]);
  if (sign.code !== 0) throw new Error(`openssl x509 -req failed: ${sign.stderr}`);
  return { certFile, keyFile };
}

export interface Endpoint {
  certificateChainPem: string;
  privateKeyPem: string;
  /** Trusted roots, PEM. */
  ca: string;
}

export type HandshakeResult =
  | { ok: true; serverSawClient: string | undefined; clientSawServer: string | undefined }
  | { ok: false; clientError?: string; serverError?: string };

function uriSan(cert: PeerCertificate | undefined): string | undefined {
  return /URI:([^,\s]+)/.exec(cert?.subjectaltname ?? '')?.[1];
}

/**
 * mTLS between a node:tls server that requires a client certificate and a
 * client, both validating against their `ca`. The client checks the server's
 * URI SAN (as Envoy matches SPIFFE IDs) instead of a host name. Succeeds
 * only once application data has crossed after both sides verified.
 */
export async function handshake(server: Endpoint, client: Endpoint, expectServerId?: string): Promise<HandshakeResult> {
  let serverError: string | undefined;
  let serverSawClient: string | undefined;
  const srv = createServer(
    { cert: server.certificateChainPem, key: server.privateKeyPem, ca: server.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
    (socket: TLSSocket) => {
      serverSawClient = uriSan(socket.getPeerCertificate());
      socket.end('ok');
    },
  );
  srv.on('tlsClientError', (err: NodeJS.ErrnoException) => {
    serverError = err.code ?? err.message;
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  try {
    return await new Promise<HandshakeResult>((resolve) => {
      const timer = setTimeout(() => resolve({ ok: false, clientError: 'timeout', serverError }), 5_000);
      const done = (r: HandshakeResult): void => {
        clearTimeout(timer);
        resolve(r);
      };
      const sock = connect({
        host: '127.0.0.1',
        port,
        cert: client.certificateChainPem,
        key: client.privateKeyPem,
        ca: client.ca,
        checkServerIdentity: (_host, cert) => {
          const id = uriSan(cert);
          return expectServerId === undefined || id === expectServerId ? undefined : new Error(`server is ${id}, expected ${expectServerId}`);
        },
      });
      let data = '';
      let clientSawServer: string | undefined;
      sock.on('secureConnect', () => (clientSawServer = uriSan(sock.getPeerCertificate())));
      sock.on('data', (chunk: Buffer) => (data += chunk.toString()));
      sock.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, clientError: err.code ?? err.message, serverError }));
      sock.on('close', () => {
        if (data === 'ok') done({ ok: true, serverSawClient, clientSawServer });
        // Let the server's tlsClientError land before reporting.
        else setTimeout(() => done({ ok: false, clientError: 'closed', serverError }), 50);
      });
    });
  } finally {
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
}
