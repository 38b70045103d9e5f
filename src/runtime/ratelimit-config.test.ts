import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { buildWith } from '../model/testing.ts';
import type { MeshModel } from '../model/types.ts';
import type { RunningMesh } from './mesh.ts';
import { keepRateLimitConfig, RATELIMIT_CONFIG_FILE } from './ratelimit-config.ts';

const RLS = 'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: trellis}\nspec:\n  rateLimitService: {address: "127.0.0.9:8081"}\n';
const policy = (requests: number) => `apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata: {name: web, namespace: demo}
spec:
  targetRef: {kind: Service, name: web}
  rateLimit:
    global: {requests: ${requests}, unit: minute}
`;

/** What keepRateLimitConfig reads of a running mesh: its model, and a hook after each publish. */
function fakeMesh(model: MeshModel): { mesh: RunningMesh; publish(next: MeshModel): void } {
  const listeners: Array<() => void> = [];
  const m = { model, onPublished: (l: () => void) => listeners.push(l) };
  return {
    mesh: m as unknown as RunningMesh,
    publish(next) {
      m.model = next;
      for (const l of listeners) l();
    },
  };
}

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('issue 15: the rate limit service config kept on disk', () => {
  it('written at start, rewritten when a global limit changes, left alone when nothing it says changed', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'trellis-rls-'));
    const file = path.join(dir, RATELIMIT_CONFIG_FILE);
    const m = fakeMesh(buildWith(policy(100), { 'mesh.yaml': RLS }).model);
    keepRateLimitConfig({ mesh: m.mesh, dir, log: pino({ level: 'silent' }) });
    expect(readFileSync(file, 'utf8')).toContain('domain: trellis\ndescriptors:\n  - key: trellis_policy\n    value: demo/web\n    rate_limit:\n      unit: minute\n      requests_per_unit: 100\n');
    m.publish(buildWith(policy(7), { 'mesh.yaml': RLS }).model);
    expect(readFileSync(file, 'utf8')).toContain('requests_per_unit: 7');
    const written = statSync(file).mtimeMs;
    m.publish(buildWith(policy(7) + '---\napiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n', { 'mesh.yaml': RLS }).model);
    expect(statSync(file).mtimeMs).toBe(written);
  });

  it('a mesh without a rate limit service: an empty domain, so a running service counts nothing stale', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'trellis-rls-'));
    keepRateLimitConfig({ mesh: fakeMesh(buildWith('').model).mesh, dir, log: pino({ level: 'silent' }) });
    expect(readFileSync(path.join(dir, RATELIMIT_CONFIG_FILE), 'utf8')).toContain('descriptors: []');
  });
});
