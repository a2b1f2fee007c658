import { describe, expect, it } from "vitest";
import { Bulkhead, BulkheadFullError } from "./bulkhead.ts";

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

  it("in its promise form, releases the slot when the call settles and rejects a full queue", async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 0 });
    const never = new AbortController();
    let finish: (value: string) => void = () => {};
    const first = bulkhead.run(() => new Promise<string>((resolve) => (finish = resolve)), never);
    await expect(bulkhead.run(async () => "second", never)).rejects.toBeInstanceOf(BulkheadFullError);
    finish("first");
    expect(await first).toBe("first");
    await Promise.resolve();
    expect(await bulkhead.run(async () => "third", never)).toBe("third");
  });

  it("in its promise form, takes a queued call out when its signal aborts", async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const never = new AbortController();
    const caller = new AbortController();
    void bulkhead.run(() => new Promise(() => {}), never);
    const queued = bulkhead.run(async () => "ran", caller);
    expect(bulkhead.queued).toBe(1);
    caller.abort(new Error("gave up"));
    await expect(queued).rejects.toThrow("gave up");
    expect(bulkhead.queued).toBe(0);
  });
});
