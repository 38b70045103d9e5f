/**
 * The mesh-wide settings: from the one MeshConfig, or defaults when there is
 * none. Two MeshConfigs conflict; the older one wins.
 */
import { DEFAULT_MESH, type MeshConfigSpec } from '../kinds/mesh-config.ts';
import type { MeshSettings } from '../types.ts';
import { olderFirst, type Book, type Entry } from './book.ts';

export function resolveMesh(configs: readonly Entry<MeshConfigSpec>[], book: Book): MeshSettings {
  const valid = configs.filter((e) => !book.rejected(e)).toSorted(olderFirst);
  const [winner, ...losers] = valid;
  for (const e of losers) {
    book.error(e, 'metadata.name', 'Conflict', `MeshConfig "${winner!.name}" already configures the mesh and only one may; delete one of them`);
  }
  return winner ? { ...winner.spec, source: winner.name } : DEFAULT_MESH;
}
