import { describe, expect, it } from 'vitest';
import type { FileOrigin, SourceObject } from '../../model/object.ts';
import { parseYamlFile } from './parse.ts';

const SPLIT = `# a canary
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata:
  name: web
  namespace: demo
  labels:
    app.kubernetes.io/name: web
spec:
  service: web
  backends:
  - service: web-v1
    weight: 90
  - service: web-v2

    weight: 10
---
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec:
  ports: [{port: 80}]
`;

function origin(obj: SourceObject | undefined): FileOrigin {
  if (obj?.origin.source !== 'file') throw new Error('expected a file origin');
  return obj.origin;
}

describe('parseYamlFile line numbers', () => {
  const { objects, errors } = parseYamlFile('split.yaml', SPLIT);
  const split = origin(objects[0]);
  const service = origin(objects[1]);

  const cases: { name: string; at: FileOrigin; path: string; line: number }[] = [
    { name: 'object line is its first field', at: split, path: '', line: 2 },
    { name: 'top-level field', at: split, path: 'spec', line: 9 },
    { name: 'nested field', at: split, path: 'spec.service', line: 10 },
    { name: 'list item', at: split, path: 'spec.backends[1]', line: 14 },
    { name: 'field of a list item after a blank line', at: split, path: 'spec.backends[1].weight', line: 16 },
    { name: 'quoted label key', at: split, path: 'metadata.labels["app.kubernetes.io/name"]', line: 8 },
    { name: 'missing field falls back to its parent', at: split, path: 'spec.backends[0].wieght', line: 12 },
    { name: 'missing subtree falls back to the closest ancestor', at: split, path: 'spec.matches[0].name', line: 9 },
    { name: 'second document after an empty one', at: service, path: '', line: 19 },
    { name: 'flow mapping field', at: service, path: 'metadata.namespace', line: 21 },
    { name: 'flow sequence item field', at: service, path: 'spec.ports[0].port', line: 23 },
  ];
  it.each(cases)('$name', ({ at, path, line }) => {
    expect(errors).toEqual([]);
    expect(at.fieldLine(path)).toBe(line);
  });

  it('keeps identity and raw content', () => {
    expect(objects.map((o) => [o.kind, o.metadata.namespace, o.metadata.name])).toEqual([
      ['TrafficSplit', 'demo', 'web'],
      ['Service', 'demo', 'web'],
    ]);
    expect(objects[0]!.metadata.labels).toEqual({ 'app.kubernetes.io/name': 'web' });
    expect(objects[0]!.raw.spec).toEqual({ service: 'web', backends: [{ service: 'web-v1', weight: 90 }, { service: 'web-v2', weight: 10 }] });
    expect(split.file).toBe('split.yaml');
  });
});

describe('parseYamlFile errors', () => {
  const cases: { name: string; text: string; line: number; field?: string; objects: number }[] = [
    { name: 'syntax error', text: 'apiVersion: v1\nkind: Service\nmetadata:\n  name: [web\n', line: 5, objects: 0 },
    { name: 'duplicate key', text: 'apiVersion: v1\nkind: Service\nkind: Pod\nmetadata: {name: a}\n', line: 3, objects: 0 },
    { name: 'document is a list', text: '- a\n- b\n', line: 1, objects: 0 },
    { name: 'missing kind', text: 'apiVersion: v1\nmetadata:\n  name: a\n', line: 1, field: 'kind', objects: 0 },
    { name: 'missing name', text: 'apiVersion: v1\nkind: Pod\nmetadata:\n  labels: {}\n', line: 3, field: 'metadata.name', objects: 0 },
    { name: 'bad document does not hide good ones', text: 'apiVersion: v1\nkind: Pod\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: ok}\n', line: 1, field: 'metadata', objects: 1 },
  ];
  it.each(cases)('$name', ({ text, line, field, objects }) => {
    const parsed = parseYamlFile('bad.yaml', text);
    expect(parsed.errors.length).toBeGreaterThan(0);
    expect(parsed.errors[0]).toMatchObject({ file: 'bad.yaml', line, ...(field ? { field } : {}) });
    expect(parsed.objects).toHaveLength(objects);
  });

  it('expands a v1 List with item line numbers', () => {
    const text = 'apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ServiceAccount\n  metadata:\n    name: a\n- apiVersion: v1\n  kind: ServiceAccount\n  metadata:\n    name: b\n';
    const { objects, errors } = parseYamlFile('list.yaml', text);
    expect(errors).toEqual([]);
    expect(objects.map((o) => o.metadata.name)).toEqual(['a', 'b']);
    expect(origin(objects[1]).line).toBe(8);
    expect(origin(objects[1]).fieldLine('metadata.name')).toBe(11);
  });

  it('treats an empty file as no objects', () => {
    expect(parseYamlFile('e.yaml', '')).toEqual({ objects: [], errors: [] });
    expect(parseYamlFile('e.yaml', '# only a comment\n---\n')).toEqual({ objects: [], errors: [] });
  });
});
