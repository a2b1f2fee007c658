// Every few seconds: the dead letters (NATS) and the stuck sagas (the order service), each kept with its own error,
// so one that cannot be read leaves the other on the page. Nothing here throws into the HTTP layer.
import { Poller, reason } from "../polling.ts";
import { type DeadLetterReader, type DeadLetterView, deadLetterView } from "./dead-letters.ts";
import type { StuckOrderRow, StuckOrdersReader } from "./stuck-orders.ts";

export interface SagaWatchOptions {
  /** None: dead letters are not shown (no NATS given). */
  deadLetters: DeadLetterReader | undefined;
  stuckOrders: StuckOrdersReader;
  intervalMs: number;
  natsUrl: string | undefined;
}

export interface SagaSnapshot {
  polledAt: string | null;
  deadLetters: DeadLetterView & { nats: string | null; error: string | null };
  stuckSagas: { orderService: string; error: string | null; orders: StuckOrderRow[] };
}

export class SagaWatch {
  private deadLetters: DeadLetterView = deadLetterView([]);
  private deadLettersError: string | null = null;
  private stuck: StuckOrderRow[] = [];
  private stuckError: string | null = null;
  private polledAt: number | undefined;
  private readonly poller: Poller;

  constructor(private readonly options: SagaWatchOptions) {
    this.poller = new Poller(() => this.pollOnce(), options.intervalMs);
  }

  /** Polls now and then every interval until stop(). */
  start(): void {
    this.poller.start();
  }

  async stop(): Promise<void> {
    await this.poller.stop();
    await this.options.deadLetters?.close();
  }

  async pollOnce(): Promise<void> {
    const { deadLetters, stuckOrders } = this.options;
    const [letters, stuck] = await Promise.allSettled([deadLetters?.read(), stuckOrders.read()]);
    if (letters.status === "fulfilled") {
      this.deadLetters = letters.value ?? deadLetterView([]);
      this.deadLettersError = null;
    } else this.deadLettersError = reason(letters.reason);
    if (stuck.status === "fulfilled") {
      this.stuck = stuck.value;
      this.stuckError = null;
    } else this.stuckError = `${stuckOrders.describe()}: ${reason(stuck.reason)}`;
    this.polledAt = Date.now();
  }

  snapshot(): SagaSnapshot {
    return {
      polledAt: this.polledAt === undefined ? null : new Date(this.polledAt).toISOString(),
      deadLetters: { ...this.deadLetters, nats: this.options.natsUrl ?? null, error: this.deadLettersError },
      stuckSagas: { orderService: this.options.stuckOrders.describe(), error: this.stuckError, orders: this.stuck },
    };
  }
}
