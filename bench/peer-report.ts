/**
 * The peer benchmark's figures (bench/peer.ts): one session is one server ×
 * xDS mode × round; the table prints, per xDS mode, each figure's median over
 * the sessions (edits: over every repeat) for Trellis and each go-control-plane
 * cache, with the peer's figure as a multiple of Trellis's (> 1: Trellis ahead).
 */
import type { EditKind } from './peer-edits.ts';
import { SERVER_LABEL, type ServerKind } from './peer-servers.ts';

export interface EditFigures {
  kind: EditKind;
  /** streams that ACKed the response carrying the edit, and those that did not in time */
  acked: number;
  missing: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** the server process's CPU from the edit to the last ACK */
  serverCpuMs: number;
  /** the server's own time applying the edit to its cache (fan-out not included) */
  applyMs: number;
  resourcesPerStream: number;
  bytesPerStream: number;
}

export interface Session {
  server: ServerKind;
  xds: 'sotw' | 'delta';
  streams: number;
  /** clientCpuMs: both client processes' CPU over the sync (the same clients for every server) */
  initial: { ms: number; serverCpuMs: number; clientCpuMs: number; synced: number; errors: string[] };
  rssMiB: number;
  resources: number;
  /** the resources' encoded size as this server serves them */
  bytesServed: number;
  edits: EditFigures[];
}

export function median(xs: number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Row {
  label: string;
  of: (sessions: Session[]) => number;
}

const editRow = (kind: EditKind, label: string, f: (e: EditFigures) => number): Row => ({
  label: `${kind}: ${label}`,
  of: (ss) => median(ss.flatMap((s) => s.edits.filter((e) => e.kind === kind).map(f))),
});

const ROWS: Row[] = [
  { label: 'initial sync, ms', of: (ss) => median(ss.map((s) => s.initial.ms)) },
  { label: 'initial sync: server CPU ms', of: (ss) => median(ss.map((s) => s.initial.serverCpuMs)) },
  { label: 'initial sync: client CPU ms', of: (ss) => median(ss.map((s) => s.initial.clientCpuMs)) },
  { label: 'server RSS, streams synced, MiB', of: (ss) => median(ss.map((s) => s.rssMiB)) },
  ...(['endpoint change', 'cluster change'] as const).flatMap((k) => [
    editRow(k, 'p50 ms', (e) => e.p50Ms),
    editRow(k, 'p99 ms', (e) => e.p99Ms),
    editRow(k, 'server CPU ms', (e) => e.serverCpuMs),
    editRow(k, 'bytes per stream', (e) => e.bytesPerStream),
  ]),
];

const fmt = (x: number) => (Number.isNaN(x) ? '-' : x >= 100 || Number.isInteger(x) ? String(Math.round(x)) : x.toFixed(1));
const ratio = (peer: number, trellis: number) => (Number.isNaN(peer) || Number.isNaN(trellis) ? '-' : trellis === 0 ? (peer === 0 ? '1.0x' : 'inf') : `${(peer / trellis).toFixed(1)}x`);

export function printTables(sessions: Session[], o: { streams: number; services: number; rounds: number; edits: number }): void {
  const servers = [...new Set(sessions.map((s) => s.server))];
  for (const xds of [...new Set(sessions.map((s) => s.xds))]) {
    const of = (k: ServerKind) => sessions.filter((s) => s.server === k && s.xds === xds);
    console.log(`\n[peer] ${o.streams} ${xds === 'sotw' ? 'SotW' : 'delta'} streams (each its own node id), ${o.services} services; medians over ${o.rounds} round(s), edits over ${o.rounds} x ${o.edits} repeats`);
    const peers = servers.filter((k) => k !== 'trellis');
    const hasTrellis = servers.includes('trellis');
    let head = '  ' + 'figure'.padEnd(40) + servers.map((k) => SERVER_LABEL[k].padStart(19)).join('');
    if (hasTrellis) head += peers.map((k) => `${SERVER_LABEL[k].replace('gcp ', '')}/Trellis`.padStart(24)).join('');
    console.log(head);
    for (const row of ROWS) {
      const values = new Map(servers.map((k) => [k, row.of(of(k))]));
      let line = '  ' + row.label.padEnd(40) + servers.map((k) => fmt(values.get(k)!).padStart(19)).join('');
      if (hasTrellis) line += peers.map((k) => ratio(values.get(k)!, values.get('trellis')!).padStart(24)).join('');
      console.log(line);
    }
    const short = sessions.filter((s) => s.xds === xds && (s.initial.synced < s.streams || s.edits.some((e) => e.missing > 0)));
    for (const s of short) {
      console.log(`  note: ${SERVER_LABEL[s.server]}: ${s.initial.synced}/${s.streams} synced, ${s.edits.reduce((n, e) => n + e.missing, 0)} edit responses missing ${s.initial.errors.slice(0, 2).join('; ')}`);
    }
  }
}
