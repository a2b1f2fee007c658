import type { BulkheadPolicy } from "../config/schema.ts";

/** A call waiting for a slot: told when it has one. */
export interface BulkheadWaiter {
  admitted(): void;
}

/**
 * Caps the calls in flight to one upstream (or to the app), with a bounded queue; overflow is refused at once.
 * Written here rather than taken from cockatiel: admission is a counter and a queue that a proxy checks on every
 * call, synchronously, while cockatiel's bulkhead runs every call inside a chain of promises.
 */
export class Bulkhead {
  private inFlight = 0;
  private readonly waiting: BulkheadWaiter[] = [];

  constructor(readonly config: BulkheadPolicy) {}

  get active(): number {
    return this.inFlight;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Takes a slot if one is free; the caller must `leave()` once its call is done. */
  tryEnter(): boolean {
    if (this.inFlight >= this.config.maxConcurrent) return false;
    this.inFlight++;
    return true;
  }

  /** Waits for a slot in turn: false when the queue is full. `admitted` runs with the slot taken. */
  enqueue(waiter: BulkheadWaiter): boolean {
    if (this.waiting.length >= this.config.maxQueue) return false;
    this.waiting.push(waiter);
    return true;
  }

  /** Gives up waiting (the caller went away or its deadline passed); false when it was not waiting. */
  withdraw(waiter: BulkheadWaiter): boolean {
    const index = this.waiting.indexOf(waiter);
    if (index < 0) return false;
    this.waiting.splice(index, 1);
    return true;
  }

  /** Frees a slot, handing it to the longest waiter. */
  leave(): void {
    const next = this.waiting.shift();
    if (next) next.admitted();
    else this.inFlight--;
  }
}
