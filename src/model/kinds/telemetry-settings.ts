/**
 * The telemetry sections of a MeshConfig (trellis.io/v1alpha1), decoded with
 * their defaults: `spec.accessLog` (off, or JSON lines to stdout, stderr or
 * a file; for the mesh, with overrides per namespace or per workload) and
 * `spec.tracing` (OpenTelemetry over OTLP/gRPC to a collector, with a
 * sampling rate). Documented for operators in docs/intents.md and
 * docs/telemetry.md; keep the three in step.
 */
import type { Field } from '../field.ts';
import type { AccessLogOverride, AccessLogPolicy, AccessLogSettings, TracingSettings } from '../types.ts';

const FORMATS = ['JSON', 'Off'] as const;
/** What Envoy's stdout/stderr access loggers write to; anything else must be a file path. */
export const STDOUT = '/dev/stdout';
export const STDERR = '/dev/stderr';
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const HOST = /^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$|^\[?[0-9a-fA-F:.]+\]?$/;

function decodeSettings(f: Field, inherited: AccessLogSettings | undefined): AccessLogSettings | undefined {
  const formatField = f.child('format');
  const format = formatField.absent ? undefined : formatField.string({ oneOf: FORMATS });
  if (!formatField.absent && format === undefined) return undefined;
  const pathField = f.child('path');
  let path: string | undefined;
  if (!pathField.absent) {
    // Absolute, so the sidecar never resolves it against a working directory nobody chose;
    // whether it can be written is the sidecar's to say (a NACK, shown by trellis status).
    path = pathField.string({ pattern: /^\/[^\0]*$/, maxLength: 4096, expected: `an absolute file path, or ${STDOUT} or ${STDERR}` });
    if (path === undefined) return undefined;
  }
  // A path alone means JSON to it; an override without a format keeps the mesh's.
  const chosen = format ?? (path !== undefined || inherited?.format === 'json' ? 'JSON' : 'Off');
  if (chosen === 'Off') {
    if (path !== undefined) pathField.report('InvalidValue', 'path has no effect with format: Off; remove it, or set format: JSON');
    return { format: 'off' };
  }
  return { format: 'json', path: path ?? (inherited?.format === 'json' ? inherited.path : STDOUT) };
}

export function decodeAccessLog(f: Field): AccessLogPolicy | undefined {
  if (!f.object({ known: ['format', 'path', 'overrides'] })) return undefined;
  const mesh = decodeSettings(f, undefined);
  const overrides: AccessLogOverride[] = [];
  if (!f.child('overrides').absent) {
    for (const o of f.child('overrides').list({ minItems: 1 })) {
      if (!o.object({ known: ['namespace', 'selector', 'format', 'path'] })) continue;
      const namespace = o.child('namespace').string({ required: true, pattern: DNS_LABEL, expected: 'the namespace of the pods this override is for' });
      let selector: Record<string, string> | undefined;
      const sel = o.child('selector');
      if (!sel.absent && sel.object({ known: ['matchLabels'] })) {
        selector = sel.child('matchLabels').stringMap({ required: true, keyPattern: LABEL_KEY, keyExpected: 'a label key such as app' });
        if (selector && Object.keys(selector).length === 0) sel.child('matchLabels').report('Required', 'matchLabels is empty: it would select every pod of the namespace; remove selector instead');
      }
      if (o.child('format').absent && o.child('path').absent) o.report('Required', 'an override needs format or path (or both)');
      const settings = decodeSettings(o, mesh);
      if (namespace !== undefined && settings) overrides.push({ namespace, ...(selector ? { selector } : {}), settings });
    }
  }
  if (mesh === undefined) return undefined;
  return { mesh, overrides };
}

export function decodeTracing(f: Field): TracingSettings | undefined {
  if (!f.object({ known: ['collector', 'samplingPercent'] })) return undefined;
  const c = f.child('collector');
  const collector = c.string({ required: true, pattern: /^[^\s:]+:\d+$|^\[[0-9a-fA-F:.]+\]:\d+$/, expected: 'host:port of an OTLP/gRPC collector, e.g. otel-collector.observability:4317' });
  let host: string | undefined;
  let port: number | undefined;
  if (collector !== undefined) {
    const i = collector.lastIndexOf(':');
    host = collector.slice(0, i).replace(/^\[|\]$/g, '');
    port = Number(collector.slice(i + 1));
    if (!HOST.test(host)) {
      c.report('InvalidValue', `"${collector}": "${host}" is not a host name or IP address`);
      host = undefined;
    } else if (!Number.isInteger(port) || port < 1 || port > 65535) {
      c.report('OutOfRange', `"${collector}": port ${port} is out of range; expected 1 to 65535`);
      port = undefined;
    }
  }
  let samplingPercent: number | undefined = 1;
  const s = f.child('samplingPercent');
  if (!s.absent) {
    if (typeof s.value !== 'number' || !Number.isFinite(s.value)) {
      s.report('InvalidType', `expected a number from 0 to 100 (the share of requests traced, in percent), got ${JSON.stringify(s.value)}`);
      samplingPercent = undefined;
    } else if (s.value < 0 || s.value > 100) {
      s.report('OutOfRange', `${s.value} is out of range; expected 0 to 100 (the share of requests traced, in percent)`);
      samplingPercent = undefined;
    } else {
      samplingPercent = s.value;
    }
  }
  if (host === undefined || port === undefined || samplingPercent === undefined) return undefined;
  return { collector: { host, port }, samplingPercent };
}
