import { describe, expect, it } from "vitest";
import { LatencyEwma } from "./latency-ewma.ts";

describe("LatencyEwma", () => {
  it("starts unmeasured at 0 and jumps at once to a slower sample", () => {
    const ewma = new LatencyEwma(1000);
    expect(ewma.estimate(0)).toBe(0);
    ewma.observe(10, 0);
    expect(ewma.estimate(0)).toBe(10);
    ewma.observe(200, 1);
    expect(ewma.estimate(1)).toBe(200);
  });

  it("moves toward a faster sample by the weight time has taken from the estimate", () => {
    const ewma = new LatencyEwma(1000);
    ewma.observe(100, 0);
    ewma.observe(10, 0);
    expect(ewma.estimate(0)).toBe(100); // no time has passed: one fast answer does not hide a slow endpoint
    ewma.observe(10, 1000);
    expect(ewma.estimate(1000)).toBeCloseTo(10 + 90 / Math.E, 9);
  });

  it("forgets by time, not by sample count", () => {
    const once = new LatencyEwma(1000);
    const often = new LatencyEwma(1000);
    once.observe(100, 0);
    often.observe(100, 0);
    once.observe(10, 1000);
    for (let t = 1; t <= 1000; t++) often.observe(10, t);
    expect(often.estimate(1000)).toBeCloseTo(once.estimate(1000), 9);
  });

  it("reads lower while no samples arrive, so an idle endpoint is tried again", () => {
    const ewma = new LatencyEwma(1000);
    ewma.observe(100, 0);
    expect(ewma.estimate(1000)).toBeCloseTo(100 / Math.E, 9);
    expect(ewma.estimate(3000)).toBeCloseTo(100 / Math.E ** 3, 9);
    expect(ewma.estimate(-5)).toBe(100); // a clock read before the sample never inflates it
  });
});
