import { describe, expect, it } from "vitest";
import { LatencyWindow } from "./latency-window.ts";

describe("the latency window", () => {
  it("has no percentile until it has enough samples", () => {
    const window = new LatencyWindow();
    for (let i = 0; i < 19; i++) window.record(5);
    expect(window.percentile(95)).toBeUndefined();
    window.record(5);
    expect(window.percentile(95)).toBe(5);
  });

  it("gives the percentile of the recent samples, forgetting the oldest", () => {
    const window = new LatencyWindow(100, 1);
    for (let i = 1; i <= 100; i++) window.record(i);
    expect(window.percentile(95)).toBe(95);
    expect(window.percentile(50)).toBe(50);
    for (let i = 0; i < 100; i++) window.record(1000);
    expect(window.percentile(50)).toBe(1000);
  });

  it("sorts again only every refreshEvery samples", () => {
    const window = new LatencyWindow(64, 32);
    for (let i = 0; i < 32; i++) window.record(10);
    expect(window.percentile(90)).toBe(10);
    for (let i = 0; i < 31; i++) window.record(50);
    expect(window.percentile(90)).toBe(10);
    window.record(50);
    expect(window.percentile(90)).toBe(50);
  });
});
