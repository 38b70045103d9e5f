/**
 * An async job that runs one at a time: asked to run while it runs, it runs
 * once more after it. So two runs never overlap and the last request is
 * never lost, however many came meanwhile (the file watcher's reloads, the
 * status writer's passes).
 */
export class SerialJob {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly job: () => Promise<void>,
    /** Checked before running once more: true once the owner is closing. */
    private readonly stopped: () => boolean = () => false,
  ) {}

  /** Runs the job now, or once more after the current run; resolves when the runs are over. */
  async run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop();
    try {
      await this.running;
    } finally {
      this.running = undefined;
    }
  }

  /** Forgets the requests made during the current run: the owner retries later, on its own schedule. */
  cancelRerun(): void {
    this.again = false;
  }

  /** Resolves when the run in progress, if any, is over (on close). */
  async idle(): Promise<void> {
    await this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      await this.job();
    } while (this.again && !this.stopped());
  }
}
