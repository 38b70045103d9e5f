/**
 * Headless Chromium (Debian's `chromium`, scripts/setup-chromium.sh) driven
 * over the DevTools protocol, with no npm package: Chromium is started with
 * `--remote-debugging-port=0` and writes the port it chose to
 * `<user-data-dir>/DevToolsActivePort`; a page's WebSocket is spoken by a
 * small child `node --experimental-websocket` (Node 20 has a WebSocket client
 * only behind that flag, and vitest's workers do not run with it) that relays
 * one JSON message per line between its stdin/stdout and the socket.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

export function chromiumBin(): string {
  const explicit = process.env.TRELLIS_CHROMIUM_BIN;
  if (explicit) return explicit;
  const found = spawnSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).stdout.trim();
  if (!found) throw new Error('chromium is not installed: run `bash scripts/setup-chromium.sh` (Debian\'s chromium package), or set TRELLIS_CHROMIUM_BIN');
  return found;
}

/** The relay: stdin lines -> socket, socket messages -> stdout lines (CDP messages are JSON, one line each). */
const RELAY = `
const ws = new WebSocket(process.argv[1]);
ws.onopen = () => process.stdout.write('{"relay":"open"}\\n');
ws.onmessage = (m) => process.stdout.write(m.data + '\\n');
ws.onclose = () => process.exit(0);
ws.onerror = (e) => { process.stderr.write('websocket error: ' + (e.message || e.type) + '\\n'); process.exit(1); };
require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => ws.send(l));
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
  method: string;
}

/** One page's DevTools session. */
export class CdpPage {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  private constructor(private readonly relay: ChildProcess) {
    readline.createInterface({ input: relay.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { id?: number; result?: Record<string, unknown>; error?: { message: string } };
      if (msg.id === undefined) return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}`));
      else p.resolve(msg.result ?? {});
    });
    relay.on('exit', () => {
      for (const p of this.pending.values()) p.reject(new Error(`${p.method}: the DevTools connection closed`));
      this.pending.clear();
    });
  }

  static async connect(wsUrl: string): Promise<CdpPage> {
    const relay = spawn(process.execPath, ['--experimental-websocket', '--no-warnings', '-e', RELAY, wsUrl], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    relay.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    await new Promise<void>((resolve, reject) => {
      const rl = readline.createInterface({ input: relay.stdout! });
      rl.once('line', (l) => (rl.close(), l.includes('"relay":"open"') ? resolve() : reject(new Error(`unexpected first message ${l}`))));
      relay.once('exit', (code) => reject(new Error(`the WebSocket relay exited (${code}): ${stderr}`)));
    });
    return new CdpPage(relay);
  }

  send(method: string, params: Record<string, unknown> = {}, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { method, resolve: (v) => (clearTimeout(timer), resolve(v)), reject: (e) => (clearTimeout(timer), reject(e)) });
      this.relay.stdin!.write(`${JSON.stringify({ id, method, params })}\n`);
    });
  }

  /** The value of a page expression (JSON-serialisable; a promise is awaited). */
  async evaluate<T>(expression: string): Promise<T> {
    const r = (await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true })) as { result: { value?: T }; exceptionDetails?: { text: string; exception?: { description?: string } } };
    if (r.exceptionDetails) throw new Error(`page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /** Polls `expression` until `ok(value)`; the last value (or the page's error) in the error otherwise. */
  async waitFor<T>(expression: string, ok: (v: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: T | string | undefined;
    for (;;) {
      try {
        const v = await this.evaluate<T>(expression);
        if (ok(v)) return v;
        last = v;
      } catch (e) {
        last = (e as Error).message; // e.g. the element is not drawn yet
      }
      if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}; last: ${JSON.stringify(last)?.slice(0, 1500)}`);
      await sleep(250);
    }
  }

  /** Opens `url` and waits for its load event (document.readyState complete). */
  async navigate(url: string): Promise<void> {
    const r = (await this.send('Page.navigate', { url })) as { errorText?: string };
    if (r.errorText) throw new Error(`opening ${url}: ${r.errorText}`);
    await this.waitFor<boolean>(`location.href === ${JSON.stringify(new URL(url).href)} && document.readyState === 'complete'`, (v) => v, `${url} to load`);
  }

  /** A PNG of the page (the whole page, beyond the viewport). */
  async screenshot(): Promise<Buffer> {
    const r = (await this.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true }, 30_000)) as { data: string };
    return Buffer.from(r.data, 'base64');
  }

  close(): void {
    this.relay.stdin!.end();
    this.relay.kill();
  }
}

export interface RunningChromium {
  process: ChildProcess;
  port: number;
  /** A session on the browser's first tab, its viewport `width` x `height`. */
  page(width: number, height: number): Promise<CdpPage>;
  stop(): Promise<void>;
}

export async function startChromium(o: { timeoutMs?: number } = {}): Promise<RunningChromium> {
  const bin = chromiumBin();
  const profile = mkdtempSync(path.join(os.tmpdir(), 'trellis-chromium-'));
  const args = [
    '--headless',
    // Chromium refuses to start as root with its sandbox on; tests here run as root in a container, so
    // it goes off. The page it loads is the test's own dashboard on loopback.
    ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
    '--remote-debugging-port=0',
    `--user-data-dir=${profile}`,
    '--disable-gpu',
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-extensions',
    '--disable-background-networking',
    '--hide-scrollbars',
    'about:blank',
  ];
  const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  const portFile = path.join(profile, 'DevToolsActivePort');
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    }
    rmSync(profile, { recursive: true, force: true });
  };
  while (!existsSync(portFile) || readFileSync(portFile, 'utf8').split('\n').length < 2) {
    if (proc.exitCode !== null) {
      await stop();
      throw new Error(`chromium exited (${proc.exitCode}) before opening its DevTools port: ${stderr}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`chromium did not write ${portFile} within ${o.timeoutMs ?? 30_000} ms: ${stderr}`);
    }
    await sleep(100);
  }
  const port = Number(readFileSync(portFile, 'utf8').split('\n')[0]);
  return {
    process: proc,
    port,
    async page(width, height) {
      const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{ type: string; webSocketDebuggerUrl: string }>;
      const tab = targets.find((t) => t.type === 'page');
      if (!tab) throw new Error(`chromium has no page target: ${JSON.stringify(targets)}`);
      const page = await CdpPage.connect(tab.webSocketDebuggerUrl);
      await page.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false });
      return page;
    },
    stop,
  };
}

/** Width and height from a PNG's IHDR chunk. */
export function pngSize(png: Buffer): { width: number; height: number } {
  if (png.subarray(0, 8).toString('hex') !== '89504e470d0a1a0a') throw new Error('not a PNG');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}
