/**
 * issue 10: the Gateway API CRDs Trellis installs are the official
 * standard-channel ones, byte for byte from the pinned Go module (nobody
 * rewrites them by hand), and the Kubernetes source watches a version each
 * CRD serves.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { WATCHED } from '../../src/sources/kubernetes/resources.ts';
import { GATEWAY_API_VERSION, gatewayApiModule } from '../support/gateway-api.ts';

type Json = Record<string, any>; // parsed CRDs
const DIR = path.resolve(import.meta.dirname, '../../deploy/crds/gateway-api');
const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();
const crds = files.map((f) => parseAllDocuments(readFileSync(path.join(DIR, f), 'utf8'))[0]!.toJSON() as Json);
const gatewayKinds = WATCHED.filter((w) => w.apiVersion.startsWith('gateway.networking.k8s.io/'));

describe('issue 10: deploy/crds/gateway-api', () => {
  it(`each file equals config/crd/standard/ of sigs.k8s.io/gateway-api ${GATEWAY_API_VERSION}, byte for byte`, () => {
    const standard = path.join(gatewayApiModule(), 'config/crd/standard');
    for (const f of files) expect(readFileSync(path.join(DIR, f)).equals(readFileSync(path.join(standard, f))), f).toBe(true);
    for (const c of crds) expect(c.metadata.annotations['gateway.networking.k8s.io/bundle-version']).toBe(GATEWAY_API_VERSION);
  });

  it('one CRD per Gateway API kind the Kubernetes source watches, serving the version it watches, with the plural it uses', () => {
    expect(crds.map((c) => c.spec.names.kind).sort()).toEqual(gatewayKinds.map((w) => w.kind).sort());
    for (const w of gatewayKinds) {
      const c = crds.find((x) => x.spec.names.kind === w.kind)!;
      const version = w.apiVersion.split('/')[1];
      expect(c.spec.versions.find((v: Json) => v.name === version)?.served, `${w.kind} ${version}`).toBe(true);
      expect(c.spec.names.plural).toBe(w.plural);
      expect(c.spec.scope).toBe(w.namespaced ? 'Namespaced' : 'Cluster');
    }
  });
});
