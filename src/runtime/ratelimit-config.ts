/**
 * Keeps the rate limit service's config (translate/ratelimit-service.ts) on
 * disk where github.com/envoyproxy/ratelimit reads it: `<dir>/config/trellis.yaml`,
 * rewritten after each published model whose global limits changed.
 * Run the service with RUNTIME_ROOT=<dir> RUNTIME_SUBDIRECTORY= (empty)
 * RUNTIME_APPDIRECTORY=config RUNTIME_WATCH_ROOT=false RUNTIME_IGNOREDOTFILES=true:
 * it then watches that folder and reloads on the rename (the temp file is a
 * dotfile, ignored). docs/intents.md "Rate limits" says the same.
 */
import { mkdirSync, renameSync, writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { MeshModel } from '../model/types.ts';
import { rateLimitServiceConfig } from '../translate/ratelimit-service.ts';
import type { RunningMesh } from './mesh.ts';

export const RATELIMIT_CONFIG_FILE = 'config/trellis.yaml';

/** The file's text for `model`; undefined when the mesh names no rate limit service. */
export function rateLimitConfigText(model: MeshModel): string | undefined {
  const config = rateLimitServiceConfig(model);
  if (!config) return undefined;
  return `# Written by Trellis from the TrafficPolicies' global rate limits; edits are overwritten.\n${stringify(config, { lineWidth: 0 })}`;
}

/** Writes the file now and after every publish that changes it. */
export function keepRateLimitConfig(o: { mesh: RunningMesh; dir: string; log: Logger }): void {
  const file = path.join(o.dir, RATELIMIT_CONFIG_FILE);
  let written: string | undefined;
  try {
    written = readFileSync(file, 'utf8');
  } catch {
    /* not written yet */
  }
  const write = () => {
    const model = o.mesh.model;
    if (!model) return;
    // No service configured: an empty domain keeps a running service serving nothing stale.
    const text = rateLimitConfigText(model) ?? `# Written by Trellis: the MeshConfig names no rate limit service.\ndomain: trellis\ndescriptors: []\n`;
    if (text === written) return;
    try {
      mkdirSync(path.dirname(file), { recursive: true });
      const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
      writeFileSync(tmp, text);
      renameSync(tmp, file);
      written = text;
      o.log.info({ file }, 'rate limit service config written');
    } catch (err) {
      // The mesh keeps being served; global limits keep the service's previous config.
      o.log.error({ file, err: errorMessage(err) }, 'could not write the rate limit service config');
    }
  };
  o.mesh.onPublished(write);
  write();
}
