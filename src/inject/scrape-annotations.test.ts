import { describe, expect, it } from 'vitest';
import { DEFAULT_INJECT_OPTIONS, type Json } from './options.ts';
import { planPodInjection } from './pod.ts';

const plan = (annotations: Record<string, string> = {}) => {
  const pod: Json = { metadata: { name: 'web', labels: { app: 'web' }, annotations }, spec: { containers: [{ name: 'app', image: 'a' }] } };
  const p = planPodInjection({ workload: 'Pod shop/web', namespace: 'shop', meta: pod.metadata, spec: pod.spec, services: [], fallbackName: 'web' }, { ...DEFAULT_INJECT_OPTIONS, caPem: 'x' });
  if (p.action !== 'inject') throw new Error(p.reason);
  return p;
};

describe('issue 12: an injected pod tells Prometheus where its sidecar\'s golden metrics are', () => {
  it('the usual scrape annotations name the stats listener: port 15090, path /stats/prometheus', () => {
    expect(plan().annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '15090', 'prometheus.io/path': '/stats/prometheus' });
  });

  it('a pod that has its own scrape annotation keeps it, and is told how to scrape the sidecar too', () => {
    const p = plan({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9102' });
    expect(p.annotations['prometheus.io/port']).toBeUndefined();
    expect(p.warnings.join('\n')).toContain('port 15090 /stats/prometheus');
  });
});
