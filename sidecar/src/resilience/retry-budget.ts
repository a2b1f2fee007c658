import type { RetryBudgetPolicy } from "../config/schema.ts";

/**
 * Caps retries to a share of recent traffic (as Linkerd and Finagle do), so retries cannot multiply the load on an
 * upstream that is failing: over a sliding window, retries <= ratio * requests + minRetriesPerSecond * window.
 * cockatiel has no budget; this is one ring of per-second buckets.
 */
export class RetryBudget {
  private readonly requests: number[];
  private readonly retries: number[];
  private currentSecond = 0;

  constructor(
    private readonly policy: RetryBudgetPolicy,
    private readonly now: () => number = Date.now,
  ) {
    this.requests = new Array(policy.windowSeconds).fill(0);
    this.retries = new Array(policy.windowSeconds).fill(0);
  }

  /** Counts an original request (not a retry). */
  recordRequest(): void {
    const index = this.bucket();
    this.requests[index] = (this.requests[index] ?? 0) + 1;
  }

  /** Takes one retry from the budget; false when the budget is spent. */
  tryAcquireRetry(): boolean {
    const index = this.bucket();
    const allowed =
      this.policy.ratio * sum(this.requests) + this.policy.minRetriesPerSecond * this.policy.windowSeconds;
    if (sum(this.retries) + 1 > allowed) return false;
    this.retries[index] = (this.retries[index] ?? 0) + 1;
    return true;
  }

  /** The bucket of the current second, clearing the buckets of seconds that passed since the last call. */
  private bucket(): number {
    const second = Math.floor(this.now() / 1000);
    const size = this.requests.length;
    const elapsed = Math.min(second - this.currentSecond, size);
    for (let step = 1; step <= elapsed; step++) {
      const stale = (this.currentSecond + step) % size;
      this.requests[stale] = 0;
      this.retries[stale] = 0;
    }
    if (elapsed > 0) this.currentSecond = second;
    return second % size;
  }
}

function sum(values: number[]): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}
