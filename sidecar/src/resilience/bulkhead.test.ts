import { describe, expect, it } from "vitest";
import { Bulkhead } from "./bulkhead.ts";

const waiter = (log: string[], name: string) => ({ admitted: () => log.push(name) });

describe("Bulkhead", () => {
  it("admits up to maxConcurrent, queues up to maxQueue in order, refuses the rest", () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 2, maxQueue: 1 });
    const log: string[] = [];
    expect([bulkhead.tryEnter(), bulkhead.tryEnter(), bulkhead.tryEnter()]).toEqual([true, true, false]);
    expect(bulkhead.enqueue(waiter(log, "first"))).toBe(true);
    expect(bulkhead.enqueue(waiter(log, "second"))).toBe(false);
    expect([bulkhead.active, bulkhead.queued]).toEqual([2, 1]);
    bulkhead.leave();
    expect(log).toEqual(["first"]);
    expect([bulkhead.active, bulkhead.queued]).toEqual([2, 0]);
    bulkhead.leave();
    bulkhead.leave();
    expect(bulkhead.active).toBe(0);
  });

  it("drops a withdrawn waiter from the queue", () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 2 });
    const log: string[] = [];
    const gone = waiter(log, "gone");
    bulkhead.tryEnter();
    bulkhead.enqueue(gone);
    bulkhead.enqueue(waiter(log, "stays"));
    expect(bulkhead.withdraw(gone)).toBe(true);
    expect(bulkhead.withdraw(gone)).toBe(false);
    bulkhead.leave();
    expect(log).toEqual(["stays"]);
  });

  it("moves its caps within the config's: a raised cap admits waiters, a lowered one lets the excess drain", () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 4, maxQueue: 4 });
    const log: string[] = [];
    bulkhead.setLimits(1, 2);
    expect(bulkhead.tryEnter()).toBe(true);
    expect(bulkhead.tryEnter()).toBe(false);
    expect([bulkhead.enqueue(waiter(log, "a")), bulkhead.enqueue(waiter(log, "b"))]).toEqual([true, true]);
    expect(bulkhead.enqueue(waiter(log, "c"))).toBe(false);
    bulkhead.setLimits(100, 100);
    expect([bulkhead.limit, bulkhead.queueLimit]).toEqual([4, 4]);
    expect(log).toEqual(["a", "b"]);
    expect(bulkhead.active).toBe(3);
    bulkhead.setLimits(1, 1);
    bulkhead.enqueue(waiter(log, "d"));
    bulkhead.leave();
    bulkhead.leave();
    expect(log).toEqual(["a", "b"]);
    bulkhead.leave();
    expect(log).toEqual(["a", "b", "d"]);
    expect(bulkhead.active).toBe(1);
  });

  it("lets a call enter beyond the cap, counting it in flight", () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const log: string[] = [];
    bulkhead.tryEnter();
    bulkhead.enter();
    expect(bulkhead.active).toBe(2);
    bulkhead.enqueue(waiter(log, "waits"));
    bulkhead.leave();
    expect(log).toEqual([]);
    bulkhead.leave();
    expect(log).toEqual(["waits"]);
  });
});
