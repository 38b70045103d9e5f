/**
 * Test helpers for the model: build from inline YAML files the way an
 * operator writes them, and pick problems out of the result. Used by tests only.
 */
import { parseYamlFile } from '../sources/file/parse.ts';
import type { SourceObject } from './object.ts';
import { buildMesh, type BuildResult } from './build.ts';
import type { Problem } from './problem.ts';

/** A small valid mesh: namespace demo, services web (root), web-v1, web-v2 and api, their pods and slices. */
export const BASE_MESH = `
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: demo}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: client, namespace: demo}
${['web', 'web-v1', 'web-v2', 'api'].map((name) => `---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: demo}
spec:
  selector: {app: ${name === 'api' ? 'api' : 'web'}${name.startsWith('web-') ? `, version: ${name.slice(4)}` : ''}}
  ports:
  - {name: http, port: 8080, targetPort: http}
  - {name: grpc, port: 9090, appProtocol: grpc}
`).join('')}
---
apiVersion: v1
kind: Pod
metadata: {name: web-v1, namespace: demo, labels: {app: web, version: v1}}
spec:
  serviceAccountName: web
  containers: [{name: app, ports: [{name: http, containerPort: 8080}]}]
status: {podIP: 127.0.0.3}
---
apiVersion: v1
kind: Pod
metadata: {name: web-v2, namespace: demo, labels: {app: web, version: v2}}
spec:
  serviceAccountName: web
  containers: [{name: app, ports: [{name: http, containerPort: 8080}]}]
status: {podIP: 127.0.0.4}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: demo, labels: {app: client}}
spec:
  serviceAccountName: client
  containers: [{name: app}]
status: {podIP: 127.0.0.2}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc, namespace: demo, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080}, {name: grpc, port: 9090}]
endpoints:
- addresses: [127.0.0.3]
  conditions: {ready: true}
  zone: z1
  targetRef: {kind: Pod, name: web-v1}
- addresses: [127.0.0.4]
  conditions: {ready: false, serving: true, terminating: true}
  zone: z2
`;

export function objectsFrom(files: Record<string, string>): SourceObject[] {
  return Object.entries(files).flatMap(([file, text]) => {
    const parsed = parseYamlFile(file, text);
    if (parsed.errors.length > 0) throw new Error(`test fixture ${file} does not parse: ${JSON.stringify(parsed.errors)}`);
    return parsed.objects;
  });
}

/** Builds the base mesh plus `intents.yaml`. */
export function buildWith(intents: string, extra: Record<string, string> = {}): BuildResult {
  return buildMesh(objectsFrom({ 'base.yaml': BASE_MESH, 'intents.yaml': intents, ...extra }));
}

export function problemsOf(result: BuildResult): Problem[] {
  return result.statuses.flatMap((s) => s.problems);
}

/** The fields of a problem tests compare (never the full message). */
export function brief(p: Problem): Pick<Problem, 'severity' | 'reason' | 'kind' | 'namespace' | 'name' | 'field' | 'file' | 'line'> {
  const { severity, reason, kind, namespace, name, field, file, line } = p;
  return { severity, reason, kind, namespace, name, field, ...(file ? { file } : {}), ...(line ? { line } : {}) };
}

/** A path regex at exactly Envoy's RE2 program-size limit (100): `/api/v[0-9]+/(users|orders|items)/<uuid>`. */
export const AT_LIMIT = String.raw`/api/v[0-9]+/(users|orders|items)/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`;
/** The same with one alternative more: program size 105. */
export const OVER_LIMIT = String.raw`/api/v[0-9]+/(users|orders|items|carts)/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`;
