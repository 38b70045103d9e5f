/**
 * What every supported kind provides: its apiVersion and kind, whether it is
 * namespaced, and `decode`, which reads the object's fields into a typed spec
 * and records a problem for anything wrong (never throwing).
 *
 * `decodeObject` wraps a kind's decode with the checks every object gets
 * (metadata, top-level fields) and turns the result into
 * `{ok: true, value, problems}` (problems: warnings only) or `{ok: false, problems}`.
 */
import type { SourceObject } from '../object.ts';
import { Field } from '../field.ts';
import { hasErrors, type FieldProblem } from '../problem.ts';

export interface DecodeContext {
  /** The object's namespace after defaulting ('' for cluster-scoped kinds). */
  namespace: string;
  name: string;
}

export interface KindSpec<T> {
  apiVersion: string;
  /** Other versions the kind's CRD serves, read the same way (the API server converts between them). */
  alsoServed?: readonly string[];
  kind: string;
  namespaced: boolean;
  /** Fields allowed at the top level besides apiVersion, kind and metadata. */
  topLevel: readonly string[];
  /** 'label': DNS-1123 label (63 chars), 'label1035': must start with a letter (Service), else DNS-1123 subdomain. */
  nameRule: 'subdomain' | 'label' | 'label1035';
  decode(root: Field, ctx: DecodeContext): T | undefined;
}

/**
 * `partial`: what could be read of an invalid object. It is never served, but
 * the cross-object checks still run on it, so `trellis validate` reports a
 * typo and a missing reference in the same pass.
 */
export type DecodeResult<T> = { ok: true; value: T; problems: FieldProblem[] } | { ok: false; problems: FieldProblem[]; partial?: T };

export function decodeObject<T>(spec: KindSpec<T>, obj: SourceObject, ctx: DecodeContext): DecodeResult<T> {
  const problems: FieldProblem[] = [];
  const root = Field.root(obj.raw, problems);
  root.object({ known: ['apiVersion', 'kind', 'metadata', ...spec.topLevel] });
  checkMetadata(root.child('metadata'), spec);
  const value = spec.decode(root, ctx);
  if (value === undefined || hasErrors(problems)) {
    if (!hasErrors(problems)) throw new Error(`bug: ${spec.kind} decode failed without reporting why`);
    return { ok: false, problems, ...(value !== undefined ? { partial: value } : {}) };
  }
  return { ok: true, value, problems };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export const NAME_EXPECTED = {
  subdomain: 'lower-case letters, digits, "-" and ".", starting and ending with a letter or digit, at most 253 characters',
  label: 'lower-case letters, digits and "-", starting and ending with a letter or digit, at most 63 characters',
  label1035: 'lower-case letters, digits and "-", starting with a letter and ending with a letter or digit, at most 63 characters',
} as const;

export function isDnsLabel(s: string): boolean {
  return s.length <= 63 && DNS_LABEL.test(s);
}

export function isValidName(rule: KindSpec<unknown>['nameRule'], s: string): boolean {
  if (rule === 'subdomain') return s.length <= 253 && DNS_SUBDOMAIN.test(s);
  if (rule === 'label1035') return s.length <= 63 && DNS_1035.test(s);
  return isDnsLabel(s);
}

/** The checks the API server would make on metadata, so a folder that validates also applies. */
function checkMetadata(meta: Field, spec: KindSpec<unknown>): void {
  const name = meta.child('name').string({ required: true });
  if (name !== undefined && !isValidName(spec.nameRule, name)) {
    meta.child('name').report('InvalidValue', `"${name}" is not a valid ${spec.kind} name; expected ${NAME_EXPECTED[spec.nameRule]}`);
  }
  const nsField = meta.child('namespace');
  if (!nsField.absent) {
    const ns = nsField.string();
    if (!spec.namespaced) nsField.warn('Ignored', `${spec.kind} is cluster-scoped; metadata.namespace is ignored. Remove it`);
    else if (ns !== undefined && !isDnsLabel(ns)) nsField.report('InvalidValue', `"${ns}" is not a valid namespace; expected ${NAME_EXPECTED.label}`);
  }
  for (const which of ['labels', 'annotations'] as const) {
    const f = meta.child(which);
    if (f.absent) continue;
    const map = f.stringMap({ keyPattern: QUALIFIED_KEY, keyExpected: 'an optional DNS prefix and "/", then a name of letters, digits, "-", "_" and "."' });
    if (which === 'labels' && map) {
      for (const [k, v] of Object.entries(map)) {
        if (v.length > 63 || !LABEL_VALUE.test(v)) {
          f.child(k).report('InvalidValue', `label value "${v}" is not valid; expected at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit`);
        }
      }
    }
  }
}

/** `prefix/name` or `name`, as label and annotation keys are. */
const QUALIFIED_KEY = {
  test(key: string): boolean {
    const slash = key.lastIndexOf('/');
    const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
    const name = slash >= 0 ? key.slice(slash + 1) : key;
    if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return false;
    return name.length <= 63 && LABEL_NAME.test(name);
  },
};
