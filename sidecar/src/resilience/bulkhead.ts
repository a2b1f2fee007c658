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

  /** Runs a call within the limit; the signal drops it from the queue when the caller gives up waiting. */
  async run<T>(call: () => Promise<T>, signal: AbortSignal): Promise<T> {
    try {
      return await this.policy.execute(call, signal);
    } catch (error) {
      if (error instanceof BulkheadRejectedError) throw new BulkheadFullError("bulkhead full");
      throw error;
    }
  }
}
