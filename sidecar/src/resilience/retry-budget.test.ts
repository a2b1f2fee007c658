import { describe, expect, it } from "vitest";
import { RetryBudget } from "./retry-budget.ts";

describe("RetryBudget", () => {
  it("allows ratio * requests + a per-second floor over the window", () => {
    let now = 1_000_000;
    const budget = new RetryBudget({ ratio: 0.2, minRetriesPerSecond: 1, windowSeconds: 10 }, () => now);
    for (let i = 0; i < 100; i++) budget.recordRequest();
    let granted = 0;
    while (budget.tryAcquireRetry()) granted++;
    expect(granted).toBe(30); // 20% of 100, plus 1/s over 10 s
    now += 5000;
    expect(budget.tryAcquireRetry()).toBe(false);
  });

  it("forgets requests and retries once they leave the window", () => {
    let now = 0;
    const budget = new RetryBudget({ ratio: 0.5, minRetriesPerSecond: 0, windowSeconds: 2 }, () => now);
    for (let i = 0; i < 10; i++) budget.recordRequest();
    while (budget.tryAcquireRetry());
    now += 3000;
    expect(budget.tryAcquireRetry()).toBe(false); // no recent requests, no floor
    budget.recordRequest();
    budget.recordRequest();
    expect(budget.tryAcquireRetry()).toBe(true);
    expect(budget.tryAcquireRetry()).toBe(false);
  });
});
