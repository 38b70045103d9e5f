/**
 * Response fields shared by the streams that send the same thing (issue 14:
 * initial sync). A thousand sidecars of one scope ask for the same clusters
 * and the same endpoint sets, so their first answers carry the same resource
 * fields: those are joined into one buffer once per (set, subscription) and
 * every stream's response points at it. With the frame writer
 * (frame-writer.ts) such a buffer reaches each stream's socket without a
 * per-stream copy; joining the ~1,000 small fields per stream instead was
 * most of what an initial sync still copied.
 *
 * Memory: a buffer is made only when a second stream sends the same whole
 * answer (a proxy's own set keeps none), lives as long as its TypeSet (weak
 * keys), and there are at most MAX_SUBSCRIPTIONS_PER_SET per set, so clients
 * with unusual subscriptions cannot make the server keep one buffer each.
 */
import type { TypeSet, VersionedResource } from '../cache/config-watcher.ts';
import type { Subscription } from './subscription.ts';

export type FieldKind = 'sotwField' | 'deltaField';

/** Fewer fields than this are sent as they are: a lookup would cost more than it saves. */
const SHARE_FROM_FIELDS = 8;
/** Distinct subscriptions remembered per set; beyond, answers are joined per stream (as before). */
const MAX_SUBSCRIPTIONS_PER_SET = 64;

/** A base set's resource fields, concatenated once per set and variant. */
const baseFieldBytes: Record<FieldKind, WeakMap<TypeSet, Buffer>> = { sotwField: new WeakMap(), deltaField: new WeakMap() };

function baseFields(base: TypeSet, kind: FieldKind): Buffer {
  const memo = baseFieldBytes[kind];
  let b = memo.get(base);
  if (!b) memo.set(base, (b = Buffer.concat([...base.items.values()].map((r) => r[kind]))));
  return b;
}

/** Every resource of a layered set as response fields: the base as one buffer, then its own. */
export function layeredFields(layers: NonNullable<TypeSet['layers']>, kind: FieldKind): Buffer[] {
  const out: Buffer[] = [baseFields(layers.base, kind)];
  for (const r of layers.own.values()) out.push(r[kind]);
  return out;
}

interface Covered {
  /** how many of the subscription's names exist in the set */
  count: number;
  /** whole answers asked for, per variant: the buffer is made on the second, when it is shared */
  sotwUses: number;
  deltaUses: number;
  sotwField?: Buffer;
  deltaField?: Buffer;
}

const coveredBySet = new WeakMap<TypeSet, Map<Subscription, Covered>>();

function coveredCount(set: TypeSet, sub: Subscription): number {
  if (sub.wildcard) return set.items.size;
  let n = 0;
  for (const name of sub.names) if (set.items.has(name)) n++;
  return n;
}

/**
 * `upsert`'s fields, as one shared buffer when `upsert` is everything `sub`
 * covers in `set` (a first answer, or a resend of everything). `upsert` must
 * come from TypeState.diff(set): distinct names, each `set`'s resource, all
 * covered by `sub` — so its size equal to the covered count means all of it.
 */
export function upsertFields(upsert: readonly VersionedResource[], set: TypeSet, sub: Subscription, kind: FieldKind): Buffer[] {
  if (upsert.length < SHARE_FROM_FIELDS) return upsert.map((r) => r[kind]);
  let bySub = coveredBySet.get(set);
  if (!bySub) coveredBySet.set(set, (bySub = new Map()));
  let covered = bySub.get(sub);
  if (!covered) {
    covered = { count: coveredCount(set, sub), sotwUses: 0, deltaUses: 0 };
    if (bySub.size < MAX_SUBSCRIPTIONS_PER_SET) bySub.set(sub, covered);
  }
  if (upsert.length !== covered.count) return upsert.map((r) => r[kind]);
  const made = covered[kind];
  if (made) return [made];
  // A set no other stream sends (a proxy's own) keeps no buffer: the frame writer joins its fields once.
  const uses = kind === 'sotwField' ? ++covered.sotwUses : ++covered.deltaUses;
  if (uses < 2) return upsert.map((r) => r[kind]);
  return [(covered[kind] = Buffer.concat(upsert.map((r) => r[kind])))];
}

type FirstAnswer = { upsert: readonly VersionedResource[]; removed: readonly string[] };

/** What a first answer to explicit names carries, per (set, subscription), once a second stream asked: see firstAnswer. */
const firstAnswers = new WeakMap<TypeSet, WeakMap<Subscription, FirstAnswer | 'once'>>();

/**
 * A first answer to `sub`'s explicit names from `set`: each existing name's
 * resource and each missing name (answered as removed, XDS_RULES 13). The
 * same for every stream of the subscription, so from the second stream on it
 * is looked up once per set and shared (a thousand sidecars' first EDS
 * answer: a thousand lookups each, otherwise); a set only one stream reads
 * keeps nothing. The arrays are shared: callers must not change them.
 */
export function firstAnswer(set: TypeSet, sub: Subscription): FirstAnswer {
  let bySub = firstAnswers.get(set);
  if (!bySub) firstAnswers.set(set, (bySub = new WeakMap()));
  const known = bySub.get(sub);
  if (known && known !== 'once') return known;
  const answer = { upsert: [] as VersionedResource[], removed: [] as string[] };
  for (const name of sub.names) {
    const r = set.get(name);
    if (r) answer.upsert.push(r);
    else answer.removed.push(name);
  }
  bySub.set(sub, known === 'once' ? answer : 'once');
  return answer;
}
