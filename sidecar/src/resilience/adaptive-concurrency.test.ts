import { describe, expect, it } from "vitest";
import { AdaptiveConcurrency } from "./adaptive-concurrency.ts";

const CONFIG = { enabled: true, minLimit: 8, initialLimit: 64, tolerance: 2, intervalMs: 100 };

/**
 * Drives a limiter through intervals of ten calls, each taking `latencyMs(limit)`, with the limit's worth in flight
 * (or `inFlight(limit)`); the last call of each ends its interval.
 */
function driver(limiter: AdaptiveConcurrency) {
  let now = 0;
  const limits: number[] = [];
  return {
    limits,
    run(intervals: number, latencyMs: (limit: number) => number, inFlight = (limit: number) => limit) {
      for (let i = 0; i < intervals; i++) {
        for (let call = 0; call < 9; call++)
          limiter.sample(latencyMs(limiter.limit), inFlight(limiter.limit), now + call);
        now += CONFIG.intervalMs;
        limiter.sample(latencyMs(limiter.limit), inFlight(limiter.limit), now);
        limits.push(limiter.limit);
      }
      return limiter.limit;
    },
  };
}

/** An app with one thread: each call costs 1 ms of it, so latency grows with the calls in flight. */
const saturated = (limit: number) => limit;

describe("AdaptiveConcurrency", () => {
  it("starts at initialLimit, within [minLimit, maxConcurrent]", () => {
    expect(new AdaptiveConcurrency(CONFIG, 1024).limit).toBe(64);
    expect(new AdaptiveConcurrency(CONFIG, 20).limit).toBe(20);
    expect(new AdaptiveConcurrency({ ...CONFIG, initialLimit: 2 }, 1024).limit).toBe(8);
    expect(new AdaptiveConcurrency(CONFIG, 4).limit).toBe(4);
  });

  it("keeps the limit while the latency stays within the tolerance of the baseline and calls come near it", () => {
    const limiter = new AdaptiveConcurrency(CONFIG, 1024);
    const { run } = driver(limiter);
    expect(run(1, () => 10)).toBeGreaterThan(64);
    expect(limiter.baselineMs).toBe(10);
    expect(limiter.recentMs).toBe(10);
  });

  it("does not grow a limit the calls never came near", () => {
    const limiter = new AdaptiveConcurrency(CONFIG, 1024);
    expect(
      driver(limiter).run(
        50,
        () => 10,
        () => 5,
      ),
    ).toBe(64);
  });

  it("lets the limit fall toward minLimit when latency rises, and grow back when it returns", () => {
    const limiter = new AdaptiveConcurrency(CONFIG, 1024);
    const { run, limits } = driver(limiter);
    run(1, () => 5);
    expect(run(6, () => 100)).toBe(8);
    const falling = limits.slice(0, 7);
    expect(falling).toEqual([...falling].sort((a, b) => b - a));
    expect(run(25, () => 5)).toBeGreaterThan(64);
  });

  it("settles a saturated app at a few times minLimit instead of its initial limit", () => {
    const limiter = new AdaptiveConcurrency(CONFIG, 1024);
    const { run, limits } = driver(limiter);
    run(1, () => 1);
    run(100, saturated);
    const settled = limits.slice(-20);
    expect(Math.min(...settled)).toBeGreaterThanOrEqual(8);
    expect(Math.max(...settled)).toBeLessThanOrEqual(24);
  });

  it("measures the baseline again at minLimit, so it follows an app that got slower for good", () => {
    const limiter = new AdaptiveConcurrency(CONFIG, 1024);
    const { run, limits } = driver(limiter);
    run(1, () => 5);
    run(30, () => 50);
    expect(Math.min(...limits)).toBe(8);
    expect(limits.at(-1)).toBeGreaterThan(64);
    expect(limiter.baselineMs).toBe(50);
  });

  it("never leaves [minLimit, maxConcurrent], whatever the latencies", () => {
    const limiter = new AdaptiveConcurrency(CONFIG, 100);
    const { run, limits } = driver(limiter);
    let seed = 7;
    const random = () => {
      seed = (seed * 48271) % 2147483647;
      return seed / 2147483647;
    };
    run(500, () => 1 + random() * random() * 1000);
    run(200, () => 1);
    expect(Math.min(...limits)).toBeGreaterThanOrEqual(8);
    expect(Math.max(...limits)).toBeLessThanOrEqual(100);
    expect(limits.at(-1)).toBe(100);
  });

  it("waits for an interval's worth of time and enough calls before it moves", () => {
    const limiter = new AdaptiveConcurrency(CONFIG, 1024);
    for (let i = 0; i < 4; i++) expect(limiter.sample(100, 64, i * 1000)).toBe(false);
    expect(limiter.recentMs).toBeUndefined();
    expect(limiter.sample(100, 64, 5000)).toBe(true);
  });
});
