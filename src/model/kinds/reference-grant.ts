/**
 * gateway.networking.k8s.io ReferenceGrant (v1beta1, also served as v1): lets
 * objects of some kinds in other namespaces (`from`) refer to objects of this
 * namespace (`to`, optionally one by name).
 * https://gateway-api.sigs.k8s.io/api-types/referencegrant/
 */
import type { Field } from '../field.ts';
import type { KindSpec } from './kind.ts';

export interface ReferenceGrantSpec {
  from: { group: string; kind: string; namespace: string }[];
  to: { group: string; kind: string; name?: string }[];
}

function groupOf(f: Field): string | undefined {
  return f.string({ required: true, allowEmpty: true, maxLength: 253, expected: 'an API group ("" for core kinds such as Service)' });
}

export const referenceGrantKind: KindSpec<ReferenceGrantSpec> = {
  apiVersion: 'gateway.networking.k8s.io/v1beta1',
  alsoServed: ['gateway.networking.k8s.io/v1'],
  kind: 'ReferenceGrant',
  namespaced: true,
  topLevel: ['spec'],
  nameRule: 'subdomain',
  decode(root) {
    const spec = root.child('spec');
    if (!spec.object({ required: true, known: ['from', 'to'] })) return undefined;
    const from: ReferenceGrantSpec['from'] = [];
    for (const f of spec.child('from').list({ required: true, minItems: 1, expected: 'a list such as [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: web}]' })) {
      if (!f.object({ known: ['group', 'kind', 'namespace'] })) continue;
      const group = groupOf(f.child('group'));
      const kind = f.child('kind').string({ required: true, maxLength: 63 });
      const namespace = f.child('namespace').string({ required: true, maxLength: 63 });
      if (group !== undefined && kind !== undefined && namespace !== undefined) from.push({ group, kind, namespace });
    }
    const to: ReferenceGrantSpec['to'] = [];
    for (const t of spec.child('to').list({ required: true, minItems: 1, expected: 'a list such as [{group: "", kind: Service}]' })) {
      if (!t.object({ known: ['group', 'kind', 'name'] })) continue;
      const group = groupOf(t.child('group'));
      const kind = t.child('kind').string({ required: true, maxLength: 63 });
      const name = t.child('name').absent ? undefined : t.child('name').string({ maxLength: 253 });
      if (group !== undefined && kind !== undefined) to.push({ group, kind, ...(name ? { name } : {}) });
    }
    return { from, to };
  },
};
