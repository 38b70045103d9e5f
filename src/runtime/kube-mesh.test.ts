import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OperatorError } from '../errors.ts';
import { loadKubeConfig } from './kube-mesh.ts';

const saved = { HOME: process.env.HOME, KUBECONFIG: process.env.KUBECONFIG, KUBERNETES_SERVICE_HOST: process.env.KUBERNETES_SERVICE_HOST };
const dirs: string[] = [];
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function home(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'trellis-home-'));
  dirs.push(d);
  process.env.HOME = d;
  delete process.env.KUBECONFIG;
  delete process.env.KUBERNETES_SERVICE_HOST;
  return d;
}

describe('loadKubeConfig (trellis check, serve --source kubernetes, install --apply)', () => {
  it('no kubeconfig anywhere: one operator line saying where it looked, not the client\'s http://localhost:8080 and its TLS refusal', () => {
    home();
    expect(() => loadKubeConfig()).toThrow(OperatorError);
    expect(() => loadKubeConfig()).toThrow(/^no kubeconfig \(no --kubeconfig, \$KUBECONFIG unset, no ~\/\.kube\/config, not in a pod\): give --kubeconfig K or set \$KUBECONFIG$/);
  });

  it('~/.kube/config, $KUBECONFIG and --kubeconfig are read', () => {
    const h = home();
    const config = (server: string) => `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "${server}"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`;
    mkdirSync(path.join(h, '.kube'));
    writeFileSync(path.join(h, '.kube', 'config'), config('https://home.example:6443'));
    expect(loadKubeConfig().getCurrentCluster()?.server).toBe('https://home.example:6443');
    writeFileSync(path.join(h, 'env.yaml'), config('https://env.example:6443'));
    process.env.KUBECONFIG = path.join(h, 'env.yaml');
    expect(loadKubeConfig().getCurrentCluster()?.server).toBe('https://env.example:6443');
    writeFileSync(path.join(h, 'flag.yaml'), config('https://flag.example:6443'));
    expect(loadKubeConfig(path.join(h, 'flag.yaml')).getCurrentCluster()?.server).toBe('https://flag.example:6443');
  });
});
