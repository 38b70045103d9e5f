/**
 * How much the file source reads (issue 16 bug 14: a 10 MB file took the
 * server to 476 MB). Parsing YAML into objects with a line for every field
 * costs some 40-50 times the file's size in memory, so a file is refused
 * whole above MAX_FILE_BYTES, before it is read; one object (one document, or
 * one item of a `v1 List`) above MAX_OBJECT_BYTES is refused as the API
 * server refuses it, so a folder that works here can be applied to a cluster.
 * A refused file keeps its last good objects, like any unusable file.
 * Documented in docs/operate.md ("Limits").
 */

/** 4 MiB: room for thousands of objects per file; split bigger folders into more files. */
export const MAX_FILE_BYTES = 4 * 1024 * 1024;

/** 1.5 MiB: the API server's own limit on one object (etcd's request size, `--max-request-bytes`). */
export const MAX_OBJECT_BYTES = 1.5 * 1024 * 1024;

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${Number((n / (1024 * 1024)).toFixed(1))} MiB`;
  if (n >= 1024) return `${Number((n / 1024).toFixed(1))} KiB`;
  return `${n} bytes`;
}

export function tooLargeMessage(size: number, limit: number): string {
  return `file is ${formatBytes(size)}, over the limit of ${formatBytes(limit)} for one source file; it is not read. Split it into smaller files`;
}

export function objectTooLargeMessage(size: number, limit: number): string {
  return `object is ${formatBytes(size)} of YAML, over the limit of ${formatBytes(limit)} for one object (the Kubernetes API server's own); split it into smaller objects`;
}
