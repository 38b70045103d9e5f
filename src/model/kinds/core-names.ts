/**
 * v1 ServiceAccount and v1 Namespace: only their names matter to the mesh (an
 * identity is a namespace plus a service account). Their other fields are
 * accepted and ignored.
 */
import type { KindSpec } from './kind.ts';

export const serviceAccountKind: KindSpec<Record<string, never>> = {
  apiVersion: 'v1',
  kind: 'ServiceAccount',
  namespaced: true,
  topLevel: ['secrets', 'imagePullSecrets', 'automountServiceAccountToken'],
  nameRule: 'subdomain',
  decode: () => ({}),
};

export const namespaceKind: KindSpec<Record<string, never>> = {
  apiVersion: 'v1',
  kind: 'Namespace',
  namespaced: false,
  topLevel: ['spec', 'status'],
  nameRule: 'label',
  decode: () => ({}),
};
