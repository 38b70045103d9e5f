/**
 * The renewal loop: re-issue certificates that are due and pick up roots
 * changed by `trellis ca rotate` in the state dir. Both end in a republish,
 * which pushes new secrets over SDS on live streams.
 *
 * One check at a time (a slow reload was overtaken by the next tick, and an
 * older read could replace newer roots); renewal goes on when the reload
 * fails; and a renewal that throws is logged, not an unhandled rejection.
 */
import type { Logger } from '../log.ts';
import { errorMessage } from '../errors.ts';
import type { MeshSecurity } from './security.ts';

export function startRenewal(opts: { security: MeshSecurity; republish: () => void; intervalMs: number; log: Logger }): () => void {
  const { security, log } = opts;
  let checking = false;
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    void security
      .reloadRoots()
      .catch((err: unknown) => {
        log.error({ err: errorMessage(err) }, 'cannot reload the roots in the state dir; keeping the current ones');
        return false;
      })
      .then((changed) => {
        if (security.renewDue() || changed) opts.republish();
      })
      .catch((err: unknown) => log.error({ err: errorMessage(err) }, 'certificate renewal failed; retrying at the next check'))
      .finally(() => {
        checking = false;
      });
  }, opts.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
