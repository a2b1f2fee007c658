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
  /** The caps in force: the config's, unless setLimits lowered them (an adaptive limit). */
  private maxConcurrent: number;
  private maxQueue: number;

  constructor(readonly config: BulkheadPolicy) {
    this.maxConcurrent = config.maxConcurrent;
    this.maxQueue = config.maxQueue;
  }

  get active(): number {
    return this.inFlight;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** The concurrency cap in force. */
  get limit(): number {
    return this.maxConcurrent;
  }

  /** The queue's cap in force. */
  get queueLimit(): number {
    return this.maxQueue;
  }

  /**
   * Moves the caps, never above the config's. A raised cap admits waiters at once; under a lowered one the calls in
   * flight finish as usual and no waiter is admitted until they are fewer than the cap.
   */
  setLimits(maxConcurrent: number, maxQueue: number): void {
    this.maxConcurrent = Math.min(maxConcurrent, this.config.maxConcurrent);
    this.maxQueue = Math.min(maxQueue, this.config.maxQueue);
    while (this.inFlight < this.maxConcurrent && this.waiting.length > 0) {
      this.inFlight++;
      (this.waiting.shift() as BulkheadWaiter).admitted();
    }
  }

  /** Takes a slot if one is free; the caller must `leave()` once its call is done. */
  tryEnter(): boolean {
    if (this.inFlight >= this.maxConcurrent) return false;
    this.inFlight++;
    return true;
  }

  /** Takes a slot whatever the cap (a call that must never be refused); it counts in flight like any other. */
  enter(): void {
    this.inFlight++;
  }

  /** Waits for a slot in turn: false when the queue is full. `admitted` runs with the slot taken. */
  enqueue(waiter: BulkheadWaiter): boolean {
    if (this.waiting.length >= this.maxQueue) return false;
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

  /** Frees a slot, handing it to the longest waiter unless the calls in flight are above the cap. */
  leave(): void {
    if (this.inFlight > this.maxConcurrent) {
      this.inFlight--;
      return;
    }
    const next = this.waiting.shift();
    if (next) next.admitted();
    else this.inFlight--;
  }
}
