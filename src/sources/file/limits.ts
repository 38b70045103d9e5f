/**
 * How much the file source reads (issue 16 bug 14: a 10 MB file took the
 * server to 476 MB). Parsing YAML into objects with a line for every field
 * costs some 40 times the file's size in heap (10 MB: +378 MB measured), so
 * a file is refused whole above MAX_FILE_BYTES, before it is read (and never
 * more than the limit is read of one that grows); one object (one document, or
 * one item of a `v1 List`) above MAX_OBJECT_BYTES is refused as the API
 * server refuses it, so a folder that works here can be applied to a cluster.
 * A refused file keeps its last good objects, like any unusable file.
 * Documented in docs/operate.md ("Limits of the file source").
 */

/** 4 MiB: room for thousands of objects per file; split bigger folders into more files. */
export const MAX_FILE_BYTES = 4 * 1024 * 1024;

/** 1.5 MiB: the API server's own limit on one object (etcd's request size, `--max-request-bytes`). */
export const MAX_OBJECT_BYTES = 1.5 * 1024 * 1024;

/** Exact, so that a file just over the limit does not read "4 MiB, over the limit of 4 MiB". */
function bytes(n: number): string {
  return `${n.toLocaleString('en-US')} bytes`;
}

function limitText(limit: number): string {
  return `${Number((limit / (1024 * 1024)).toFixed(2))} MiB (${bytes(limit)})`;
}

export function tooLargeMessage(size: number, limit: number): string {
  return `file is ${bytes(size)}, over the limit of ${limitText(limit)} for one source file; it is not read. Split it into smaller files`;
}

export function objectTooLargeMessage(size: number, limit: number): string {
  return `object is ${bytes(size)} of YAML, over the limit of ${limitText(limit)} for one object (the Kubernetes API server's own); split it into smaller objects`;
}
