// The dashboard's background reads: one round now, then the next an interval after each round ends, until stop().

/** Runs `round` now and then every `intervalMs` after the previous round settled; rounds never overlap. */
export class Poller {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly round: () => Promise<void>,
    private readonly intervalMs: number,
  ) {}

  /** Runs a round now and then every interval until stop(). */
  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.round().finally(() => {
        this.running = undefined;
        if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs);
      });
    };
    tick();
  }

  /** Starts no further round and waits for the one in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}

/** Why a read failed: the message of the error's cause when it has one (as fetch's errors do), else its own. */
export const reason = (error: unknown) => {
  const cause = (error as Error).cause as Error | undefined;
  return cause?.message ?? (error as Error).message;
};
