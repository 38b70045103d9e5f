/** The message of anything thrown, for logs and operator-facing text. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
