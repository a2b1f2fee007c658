import { BulkheadRejectedError, bulkhead, type BulkheadPolicy as CockatielBulkhead } from "cockatiel";
import type { BulkheadPolicy } from "../config/schema.ts";

/** Thrown when both the concurrency limit and the queue are full. */
export class BulkheadFullError extends Error {}

/** Caps the calls in flight to one upstream (cockatiel), with a bounded queue; overflow is refused at once. */
export class Bulkhead {
  private readonly policy: CockatielBulkhead;

  constructor(readonly config: BulkheadPolicy) {
    this.policy = bulkhead(config.maxConcurrent, config.maxQueue);
  }

  get active(): number {
    return this.config.maxConcurrent - this.policy.executionSlots;
  }

  get queued(): number {
    return this.config.maxQueue - this.policy.queueSlots;
  }

  /**
   * Runs a call within the limit. A call that has to queue leaves the queue when `waiter.signal` aborts; the signal is
   * asked for only then, so a call that finds a free slot costs no AbortController.
   */
  async run<T>(call: () => Promise<T>, waiter: { readonly signal: AbortSignal }): Promise<T> {
    try {
      return await this.policy.execute(call, this.policy.executionSlots > 0 ? undefined : waiter.signal);
    } catch (error) {
      if (error instanceof BulkheadRejectedError) throw new BulkheadFullError("bulkhead full");
      throw error;
    }
  }
}
