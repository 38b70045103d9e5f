/**
 * Memo tables for builders. A key is a list of parts compared by content
 * (objects by their JSON, cached per object so a thousand proxies reading the
 * same model object pay for it once). A hit returns the very object built
 * before, which the cache recognises without encoding it again — so a change
 * costs builds and encodes only for the resources whose inputs changed,
 * whether or not the model rebuilt its objects.
 */
import type { Cluster, ClusterLoadAssignment, Listener, RouteConfiguration, Secret, VirtualHost } from '../xds/envoy-types.ts';

// Two generations, rotated once per translated model version and once per
// endpoint build (sweepContentKeys; runtime/proxy-resources.ts): a V8
// WeakMap's table does not shrink when its keys die, so one map kept for the
// process's life stays sized for the busiest stretch between two full GCs
// (endpoint churn: +7.6 % heap after 10,000 changes, issue 16; endpoint-only
// churn translates nothing, so it rotates at the endpoint build, else the
// table grew from 2 to 4 MiB in its first 1,000 changes). A key still in use
// is carried into the new generation.
let json = new WeakMap<object, string>();
let jsonBefore = new WeakMap<object, string>();

function contentOf(o: object): string {
  let s = json.get(o);
  if (s === undefined) {
    s = jsonBefore.get(o) ?? JSON.stringify(o);
    json.set(o, s);
  }
  return s;
}

let generation = 0;

/** Start a new generation of content keys: objects not keyed since the last sweep are forgotten. */
export function sweepContentKeys(): void {
  jsonBefore = json;
  json = new WeakMap();
  generation++;
}

/** How many generations of content keys there have been (tests: who rotates them). */
export function contentKeyGeneration(): number {
  return generation;
}

function keyOf(parts: readonly unknown[]): string {
  let key = '';
  for (const p of parts) {
    if (p === undefined) key += '|u';
    else if (p === null) key += '|n';
    else if (Array.isArray(p)) key += `|[${keyOf(p)}]`;
    else if (typeof p === 'object') key += `|${contentOf(p)}`;
    else key += `|${typeof p}:${String(p)}`;
  }
  return key;
}

export class Memo<T> {
  private current = new Map<string, T>();
  private previous = new Map<string, T>();
  hits = 0;
  misses = 0;

  get(parts: readonly unknown[], build: () => T): T {
    const key = keyOf(parts);
    let v = this.current.get(key);
    if (v !== undefined) {
      this.hits++;
      return v;
    }
    v = this.previous.get(key);
    if (v !== undefined) this.hits++;
    else {
      this.misses++;
      v = build();
    }
    this.current.set(key, v);
    return v;
  }

  /** Start a new generation: entries not used since the last sweep are dropped. */
  sweep(): void {
    this.previous = this.current;
    this.current = new Map();
  }
}

/**
 * The Translator's memo tables, one per resource type, shared by the builders
 * that assemble a proxy's resources (translate.ts, scope-shared.ts, inbound.ts,
 * proxyless-listeners.ts, gateway/proxy.ts): a key names everything the
 * resource is built from, so any of them may hand back what another built.
 */
export class MemoTables {
  readonly clusters = new Memo<Cluster>();
  readonly endpoints = new Memo<ClusterLoadAssignment>();
  readonly routes = new Memo<RouteConfiguration>();
  /** One object per virtual host's inputs: unchanged hosts are not built again, nor encoded (cache/message-encoding.ts). */
  readonly virtualHosts = new Memo<VirtualHost>();
  readonly listeners = new Memo<Listener>();
  readonly externalClusters = new Memo<Cluster[]>();
  readonly secrets = new Memo<Secret>();

  /** Call after translating every proxy for a model version: forget what nobody used. */
  sweep(): void {
    this.clusters.sweep();
    this.endpoints.sweep();
    this.routes.sweep();
    this.virtualHosts.sweep();
    this.listeners.sweep();
    this.externalClusters.sweep();
    this.secrets.sweep();
    sweepContentKeys();
  }
}
