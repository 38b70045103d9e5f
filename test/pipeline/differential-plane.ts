/**
 * Differential-test plumbing: a control plane made of the real runtime parts
 * (MeshPipeline -> MeshPublisher -> SnapshotCache, a real CA behind SDS), with
 * proxies registered the way the xDS server registers a stream (createWatch,
 * which makes the publisher translate for the node), and a comparison of
 * two such planes' snapshots: every node, every type, every resource's name,
 * version and encoded bytes.
 */
import { CertificateAuthority } from '../../src/ca/authority.ts';
import { SnapshotCache } from '../../src/cache/snapshot-cache.ts';
import { rootLogger } from '../../src/log.ts';
import { hasErrors } from '../../src/model/index.ts';
import type { SourceObject } from '../../src/model/object.ts';
import { DocumentCache } from '../../src/sources/file/documents.ts';
import { MeshPipeline } from '../../src/runtime/pipeline.ts';
import type { SecretSource } from '../../src/runtime/publisher.ts';
import { CaSecretSource } from '../../src/runtime/secrets.ts';
import { PUSH_ORDER, SHORT_NAMES, TypeUrl } from '../../src/xds/type-urls.ts';
import { formatFieldChange, jsonDiff } from '../../src/xds/json-diff.ts';
import { decodeAnyValue, type NodeInfo } from '../../src/xds/wire.ts';
import type { YamlFiles } from '../support/mesh-harness.ts';

/**
 * One CA per trust domain, so that a MeshConfig edit of the trust domain still
 * gets certificates (a CA signs for its own domain only). `use` names the
 * domain of the mesh about to be applied: a proxy without a workload asks for
 * no identity and still receives that domain's trust bundle.
 */
export class TrustDomainSecrets implements SecretSource {
  private current = '';
  private constructor(private readonly byDomain: ReadonlyMap<string, CaSecretSource>) {}

  static async open(stateDir: string, domains: readonly string[]): Promise<TrustDomainSecrets> {
    const byDomain = new Map<string, CaSecretSource>();
    for (const trustDomain of domains) {
      const ca = await CertificateAuthority.open({ trustDomain, stateDir: `${stateDir}/${trustDomain}` });
      byDomain.set(trustDomain, new CaSecretSource(() => ca));
    }
    return new TrustDomainSecrets(byDomain);
  }

  use(trustDomain: string): void {
    if (!this.byDomain.has(trustDomain)) throw new Error(`test setup: no CA for trust domain ${trustDomain}`);
    this.current = trustDomain;
  }

  secretsFor(identities: readonly string[]): ReturnType<SecretSource['secretsFor']> {
    const domain = identities[0] ? new URL(identities[0]).host : this.current;
    return this.byDomain.get(domain)!.secretsFor(identities);
  }
}

/** A control plane as `trellis serve` composes one, minus the gRPC server. */
export class Plane {
  readonly cache = new SnapshotCache((n) => n.id);
  private readonly pipeline: MeshPipeline;
  private files = new Map<string, { documents: DocumentCache; objects: SourceObject[] }>();

  constructor(private readonly secrets: TrustDomainSecrets) {
    this.pipeline = new MeshPipeline(this.cache, rootLogger, secrets);
  }

  /**
   * A new version of every object the source holds (the file source's reload), read as the
   * file watcher reads it: each file through its document cache (sources/file/documents.ts),
   * so an edit re-parses only the documents it changed and the model meets the unchanged
   * objects again (its decode cache). The edits are all valid, unless `invalid` is set:
   * then a file that does not parse keeps its last good objects, as in the watcher, and
   * rejected objects their last good version (model/last-good.ts).
   */
  apply(files: YamlFiles, { invalid = false }: { invalid?: boolean } = {}): void {
    const read = new Map<string, { documents: DocumentCache; objects: SourceObject[] }>();
    for (const [file, text] of Object.entries(files)) {
      const documents = this.files.get(file)?.documents ?? new DocumentCache(file);
      const parsed = documents.parse(text);
      if (parsed.errors.length > 0 && !invalid) throw new Error(`test fixture ${file} does not parse: ${JSON.stringify(parsed.errors)}`);
      read.set(file, { documents, objects: parsed.errors.length > 0 ? (this.files.get(file)?.objects ?? []) : parsed.objects });
    }
    this.files = read;
    const objects = [...read.values()].flatMap((f) => f.objects);
    const spec = objects.find((o) => o.kind === 'MeshConfig')?.raw.spec as { trustDomain?: string } | undefined;
    this.secrets.use(spec?.trustDomain ?? 'cluster.local');
    const result = this.pipeline.apply(objects);
    if (!result) throw new Error(`the pipeline failed: ${this.pipeline.failure?.message}`);
    const bad = result.statuses.filter((s) => hasErrors(s.problems));
    // An invalid object would keep its last good version on one plane only: not what this test compares.
    if (bad.length > 0 && !invalid) throw new Error(`test fixture is invalid: ${JSON.stringify(bad.map((s) => [s.kind, s.name, s.problems.map((p) => p.message)]))}`);
  }

  /** The rollout controller's weights (issue 12): with objects applied, built and published at once. */
  rolloutProgress(progress: ReadonlyMap<string, { revision: string; canaryWeight: number }>): void {
    this.pipeline.setRolloutProgress(progress);
  }

  /** Streams open, through the server's seam (ConfigWatcher): a node's first watch is what makes the publisher translate for it. */
  connect(nodes: readonly NodeInfo[]): void {
    for (const n of nodes) this.cache.createWatch(n, () => {});
  }
}

/** Every difference between two planes' snapshots, as `node type name: what`, for a readable failure. */
export function differences(incremental: Plane, fresh: Plane): string[] {
  const out: string[] = [];
  const keys = [...new Set([...incremental.cache.keys(), ...fresh.cache.keys()])].sort();
  for (const key of keys) {
    const a = incremental.cache.get(key);
    const b = fresh.cache.get(key);
    if (!a || !b) {
      out.push(`${key}: snapshot only on the ${a ? 'incremental' : 'fresh'} plane`);
      continue;
    }
    for (const t of PUSH_ORDER) {
      const sa = a.get(t);
      const sb = b.get(t);
      const where = `${key} ${SHORT_NAMES[t]}`;
      for (const name of [...new Set([...sa.items.keys(), ...sb.items.keys()])].sort()) {
        const ra = sa.items.get(name);
        const rb = sb.items.get(name);
        if (!ra || !rb) out.push(`${where} ${name}: only on the ${ra ? 'incremental' : 'fresh'} plane`);
        else if (ra.version !== rb.version || !ra.value.equals(rb.value) || !ra.sotwField.equals(rb.sotwField)) {
          // Secrets hold private keys: name them, never print them.
          const detail = t === TypeUrl.Secret ? 'different certificate' : jsonDiff(decodeAnyValue(t, ra.value), decodeAnyValue(t, rb.value), 5).map(formatFieldChange).join('; ');
          out.push(`${where} ${name}: incremental ≠ fresh: ${detail}`);
        }
      }
      if (sa.version !== sb.version && out.every((d) => !d.startsWith(where))) out.push(`${where}: set versions differ (${sa.version} ≠ ${sb.version})`);
    }
  }
  return out;
}

/** Whether any node's resources differ between two planes (an edit that changes nothing tests nothing). */
export function anyChange(a: Plane, b: Plane): boolean {
  return differences(a, b).length > 0;
}
