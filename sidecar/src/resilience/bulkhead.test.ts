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
});
