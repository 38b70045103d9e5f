/**
 * A resource at one version: its name, its content-hash version and its bytes,
 * ready to be copied into any response. Resources are interned by content, so
 * two proxies (or two snapshots) holding the same content hold the same
 * object: identity comparison is a version comparison, and the bytes exist
 * once in memory.
 */
import { createHash } from 'node:crypto';
import { errorMessage } from '../errors.ts';
import { messageNameOf, resourceNameOf, type ResourceOf, type ResourceTypeUrl } from '../xds/type-urls.ts';
import { encodeAny, encodeDeltaResource, lenField } from '../xds/wire.ts';
import { Interner } from '../interner.ts';
import { encodeMessage } from './message-encoding.ts';
import { referencesOf, type References } from './references.ts';

export interface VersionedResource {
  readonly typeUrl: ResourceTypeUrl;
  readonly name: string;
  /**
   * Content hash of the encoded resource (XDS_RULES 4): equal content gives an
   * equal version in every process and across restarts; different content
   * never shares one.
   */
  readonly version: string;
  /** DiscoveryResponse field 2 (an Any), ready to concatenate. */
  readonly sotwField: Buffer;
  /** DeltaDiscoveryResponse field 2 (a Resource with name and version), ready to concatenate. */
  readonly deltaField: Buffer;
  /** The encoded message alone (for config dumps: decode on demand). */
  readonly value: Buffer;
  readonly references: References;
  /** Who may receive it; only secrets carry an owner (XDS_RULES 23). */
  readonly owner?: string;
}

export class InvalidResourceError extends Error {
  constructor(
    readonly typeUrl: string,
    readonly resourceName: string,
    readonly problem: string,
  ) {
    super(`${messageNameOf(typeUrl)} "${resourceName}": ${problem}`);
  }
}

/** Counts every protobuf encode, so benchmarks can show encoding is per change, not per stream. */
export const encodeStats = { encodes: 0, interned: 0 };

/** One object per (type, name, version, owner): the bytes of equal content exist once. */
const interned = new Interner<VersionedResource>();

/**
 * Memo from the builder's object to its encoded resource. Builders that return
 * the same object for unchanged input (shared per-service clusters, say) pay
 * for the encode once, however many proxies include it.
 */
const byObject = new WeakMap<object, VersionedResource>();

export interface EncodeOptions {
  owner?: string;
}

/** A builder's resource, typed by the message its type URL names (src/xds/envoy-types.ts). */
export function encodeResource<U extends ResourceTypeUrl>(typeUrl: U, resource: ResourceOf<U>, options?: EncodeOptions): VersionedResource;
/** Untyped input (fixtures, the raw resources file): the protos check it when it is encoded. */
export function encodeResource(typeUrl: ResourceTypeUrl, resource: Record<string, unknown>, options?: EncodeOptions): VersionedResource;
export function encodeResource(typeUrl: ResourceTypeUrl, typed: object, options: EncodeOptions = {}): VersionedResource {
  // Either overload's object is read as the proto3 JSON it is.
  const resource = typed as Record<string, unknown>;
  const memo = byObject.get(resource);
  if (memo && memo.typeUrl === typeUrl && memo.owner === options.owner) return memo;
  const name = resourceNameOf(typeUrl, resource);
  if (!name) throw new InvalidResourceError(typeUrl, '(unnamed)', 'a resource needs a non-empty name');
  let value: Buffer;
  try {
    value = encodeMessage(typeUrl, resource);
  } catch (e) {
    throw new InvalidResourceError(typeUrl, name, errorMessage(e));
  }
  encodeStats.encodes++;
  const version = createHash('sha256').update(typeUrl).update('\0').update(value).digest('base64url').slice(0, 22);
  const key = `${typeUrl}\0${name}\0${version}\0${options.owner ?? ''}`;
  let made = false;
  const vr = interned.intern(key, () => {
    made = true;
    const any = encodeAny(typeUrl, value);
    return Object.freeze({
      typeUrl,
      name,
      version,
      value,
      sotwField: lenField(2, any),
      deltaField: lenField(2, encodeDeltaResource(name, version, any)),
      references: referencesOf(typeUrl, name, resource),
      owner: options.owner,
    });
  });
  if (!made) encodeStats.interned++;
  byObject.set(resource, vr);
  return vr;
}
