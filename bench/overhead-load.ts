/**
 * The load of `scripts/bench.sh overhead` (bench/overhead.ts): an open-loop
 * driver and one sender per protocol (HTTP/1.1, gRPC, TCP), each sending the
 * 1 KB payload and checking the 1 KB answer. Shared by the generator in the
 * benchmark's own process and its gRPC generator processes
 * (bench/overhead-grpc-main.ts).
 */
import * as grpc from '@grpc/grpc-js';
import http from 'node:http';
import net from 'node:net';
import { ECHO_METHOD } from './echo-service.ts';

export const PAYLOAD = Buffer.alloc(1024, 'x');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Driven {
  /** ms from each answered request's dispatch to its full answer (empty when not recorded). */
  latencies: number[];
  /** Failed requests, and those still unanswered 10 s after the last dispatch. */
  errors: number;
}

/** Open loop: `rate` dispatches a second for `seconds`, whatever the answers do. */
export async function drive(send: () => Promise<void>, rate: number, seconds: number, record: boolean): Promise<Driven> {
  const latencies: number[] = [];
  let errors = 0;
  let inflight = 0;
  const total = Math.round(rate * seconds);
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
    for (; sent < due; sent++) {
      const t0 = performance.now();
      inflight++;
      send().then(
        () => record && latencies.push(performance.now() - t0),
        () => errors++,
      ).finally(() => inflight--);
    }
    await sleep(1);
  }
  const deadline = performance.now() + 10_000;
  while (inflight > 0 && performance.now() < deadline) await sleep(5);
  return { latencies, errors: errors + inflight };
}

export type Sender = { send: () => Promise<void>; close: () => void };

export function httpSender(host: string, port: number, authority: string): Sender {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const send = () =>
    new Promise<void>((resolve, reject) => {
      const req = http.request({ host, port, method: 'POST', path: '/echo', agent, headers: { host: authority, 'content-length': PAYLOAD.length } }, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => (n += c.length));
        res.on('end', () => (res.statusCode === 200 && n === PAYLOAD.length ? resolve() : reject(new Error(`HTTP ${res.statusCode}, ${n} bytes`))));
      });
      req.on('error', reject);
      req.end(PAYLOAD);
    });
  return { send, close: () => agent.destroy() };
}

/**
 * `channels` gRPC channels (HTTP/2 connections: each its own subchannel
 * pool, or grpc-js would share one connection), requests round-robin over
 * them.
 */
export function grpcSender(target: string, authority: string | undefined, channels = 1): Sender {
  const options = { 'grpc.use_local_subchannel_pool': 1, ...(authority ? { 'grpc.default_authority': authority } : {}) };
  const clients = Array.from({ length: channels }, () => new grpc.Client(target, grpc.credentials.createInsecure(), options));
  const raw = (b: Buffer) => b;
  let next = 0;
  const send = () =>
    new Promise<void>((resolve, reject) =>
      clients[next++ % clients.length]!.makeUnaryRequest(ECHO_METHOD, raw, raw, PAYLOAD, (e, r) => (e ? reject(e) : r?.length === PAYLOAD.length ? resolve() : reject(new Error('short answer')))),
    );
  return { send, close: () => clients.forEach((c) => c.close()) };
}

/** A pool of persistent connections; a request takes a free one, writes 1 KB and waits for 1 KB back. */
export function tcpSender(host: string, port: number, size = 32): Sender {
  const free: net.Socket[] = [];
  const waiting: Array<(s: net.Socket) => void> = [];
  const all: net.Socket[] = [];
  for (let i = 0; i < size; i++) {
    const s = net.connect({ host, port, noDelay: true });
    s.on('error', () => undefined);
    all.push(s);
    free.push(s);
  }
  const take = () => new Promise<net.Socket>((r) => (free.length ? r(free.pop()!) : waiting.push(r)));
  const give = (s: net.Socket) => (waiting.length ? waiting.shift()!(s) : free.push(s));
  const send = async () => {
    const s = await take();
    await new Promise<void>((resolve, reject) => {
      let n = 0;
      const onData = (d: Buffer) => {
        n += d.length;
        if (n >= PAYLOAD.length) done();
      };
      const onClose = () => done(new Error('connection closed'));
      const done = (e?: Error) => {
        s.off('data', onData);
        s.off('close', onClose);
        if (e) reject(e);
        else resolve();
      };
      s.on('data', onData);
      s.once('close', onClose);
      s.write(PAYLOAD);
    });
    give(s);
  };
  return { send, close: () => all.forEach((s) => s.destroy()) };
}
